"""Baselines of the paper's Table 1 as LightningModules, evaluated like :class:`JointStage`.

Part of ``lightning_modules`` (layer 5). One package per trained method (``deep_recursive_hdri``,
``expandnet``, ``hdrcnn``): ``model.py`` the network (plain torch on ``ops``), ``loss.py`` its loss,
``module.py`` the LightningModule, which registers its reconstructor; the package re-exports them, and
``lightning_modules.baselines.<method>.<Class>`` is the class path configs and checkpoints use. The
parameter-free references (``linear_expansion``, ``exposure_shift``, ``debevec_gt``) are single modules.
"""

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
