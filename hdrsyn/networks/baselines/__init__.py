"""Our implementations of the single-image HDR baselines of the paper's Table 1."""

from hdrsyn.networks.baselines.deep_recursive_hdri import (
    DeepRecursiveHDRI,
    ExposureUNet,
    PatchDiscriminator,
    lsgan_loss,
)
from hdrsyn.networks.baselines.expandnet import ExpandNet, expandnet_loss
from hdrsyn.networks.baselines.hdrcnn import HDRCNN, HDRCNNOutput, hdrcnn_loss, saturation_mask

__all__ = [
    "HDRCNN",
    "DeepRecursiveHDRI",
    "ExpandNet",
    "ExposureUNet",
    "HDRCNNOutput",
    "PatchDiscriminator",
    "expandnet_loss",
    "hdrcnn_loss",
    "lsgan_loss",
    "saturation_mask",
]
