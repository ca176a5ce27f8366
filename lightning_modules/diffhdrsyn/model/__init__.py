"""Our stack generator (paper Sec. 3.2): the torch model of :mod:`lightning_modules.diffhdrsyn`.

Plain torch modules on ``ops`` (errors from :mod:`hdrsyn.errors`): no Lightning, data or losses, as each
baseline's ``model.py``.
"""

from lightning_modules.diffhdrsyn.model.blocks import ConditionalInstanceNorm2d, ConvGRUCell, DoubleSwishConv, SwishConv
from lightning_modules.diffhdrsyn.model.clip_headroom import ClipHeadroom
from lightning_modules.diffhdrsyn.model.generator_config import DEFAULT_GENERATOR, LEGACY_SWITCHES, GeneratorConfig
from lightning_modules.diffhdrsyn.model.global_net import GlobalUNet
from lightning_modules.diffhdrsyn.model.local_net import LocalUNet
from lightning_modules.diffhdrsyn.model.refine_net import RefineUNet
from lightning_modules.diffhdrsyn.model.stack_generator import ExposureNet, ExposureState, ExposureStep, StackGenerator
from lightning_modules.diffhdrsyn.model.unet import UNetTrunk
from lightning_modules.diffhdrsyn.model.widths import WIDTH_PRESETS, GeneratorWidths, NetWidth, get_widths

__all__ = [
    "DEFAULT_GENERATOR",
    "LEGACY_SWITCHES",
    "WIDTH_PRESETS",
    "ClipHeadroom",
    "ConditionalInstanceNorm2d",
    "ConvGRUCell",
    "DoubleSwishConv",
    "ExposureNet",
    "ExposureState",
    "ExposureStep",
    "GeneratorConfig",
    "GeneratorWidths",
    "GlobalUNet",
    "LocalUNet",
    "NetWidth",
    "RefineUNet",
    "StackGenerator",
    "SwishConv",
    "UNetTrunk",
    "get_widths",
]
