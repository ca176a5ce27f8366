"""Stack-generation networks of the paper (Sec. 3.2).

Part of the ``hdrsyn`` library (layer 3): plain torch modules on ``ops``; no Lightning, data or losses.
The baselines' networks live with their methods in :mod:`lightning_modules.baselines`.
"""

from hdrsyn.networks.blocks import ConditionalInstanceNorm2d, ConvGRUCell, DoubleSwishConv, SwishConv
from hdrsyn.networks.generator_config import DEFAULT_GENERATOR, GeneratorConfig
from hdrsyn.networks.global_net import GlobalUNet
from hdrsyn.networks.local_net import LocalUNet
from hdrsyn.networks.refine_net import RefineUNet
from hdrsyn.networks.stack_generator import ExposureNet, ExposureState, ExposureStep, StackGenerator
from hdrsyn.networks.unet import UNetTrunk
from hdrsyn.networks.widths import WIDTH_PRESETS, GeneratorWidths, NetWidth, get_widths

__all__ = [
    "DEFAULT_GENERATOR",
    "WIDTH_PRESETS",
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
