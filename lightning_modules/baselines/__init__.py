"""Baselines of the paper's Table 1 as LightningModules, evaluated like :class:`JointStage`."""

from lightning_modules.baselines.base import HDRBaseline, ReferenceMethod
from lightning_modules.baselines.debevec_gt import DebevecReference
from lightning_modules.baselines.deep_recursive_hdri import DeepRecursiveHDRIBaseline
from lightning_modules.baselines.expandnet import ExpandNetBaseline
from lightning_modules.baselines.exposure_shift import ExposureShiftReference
from lightning_modules.baselines.hdrcnn import HDRCNNBaseline
from lightning_modules.baselines.linear_expansion import LinearExpansion

__all__ = [
    "DebevecReference",
    "DeepRecursiveHDRIBaseline",
    "ExpandNetBaseline",
    "ExposureShiftReference",
    "HDRBaseline",
    "HDRCNNBaseline",
    "LinearExpansion",
    "ReferenceMethod",
]
