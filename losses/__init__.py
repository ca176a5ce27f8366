"""The loss terms of the paper's Eq. 4-7 (each method assembles its objective in its own folder,
:mod:`lightning_modules.diffhdrsyn.loss` for ours).

Layer 2: imports ``ops`` (and torch / torchvision); not ``hdrsyn``, ``datamodules`` or ``lightning_modules``.
"""

from losses.cobi import CoBiLoss, VGG19Features, contextual_bilateral_loss
from losses.edge import EdgeLoss, edge_loss
from losses.hdr import ClippedHDRLoss, HDRLoss, clipped_hdr_loss, clipped_mask, hdr_loss
from losses.histogram import HistogramLoss, histogram_loss, soft_histogram

__all__ = [
    "ClippedHDRLoss",
    "CoBiLoss",
    "EdgeLoss",
    "HDRLoss",
    "HistogramLoss",
    "VGG19Features",
    "clipped_hdr_loss",
    "clipped_mask",
    "contextual_bilateral_loss",
    "edge_loss",
    "hdr_loss",
    "histogram_loss",
    "soft_histogram",
]
