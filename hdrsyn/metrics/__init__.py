"""Evaluation metrics: exposure-stack PSNR/SSIM/MS-SSIM and HDR metrics under one normalisation protocol.

Each metric has one definition, as in torchmetrics: a functional form returning per-image scores
(``pu21_psnr``, ``mu_law_psnr``, ``stack_scores``, ...) and a ``Metric`` class that calls it
(``PU21PSNR``, ``MuLawPSNR``, ``StackMetrics``, ...). ``CRFCorrected`` scores any HDR metric after the
per-image tone-curve correction of :mod:`hdrsyn.metrics.crf_correction`.

Part of the ``hdrsyn`` library (layer 3): imports ``ops`` and torchmetrics; no Lightning modules or data.
"""

from hdrsyn.metrics.colorvideovdp import ColorVideoVDP, color_video_vdp, cvvdp_available
from hdrsyn.metrics.crf_correction import CRFCorrected, crf_correct
from hdrsyn.metrics.display import pixels_per_degree
from hdrsyn.metrics.export import HDRVDPExporter
from hdrsyn.metrics.hdr_psnr import LogPSNR, MuLawPSNR, log_psnr, mu_law_psnr
from hdrsyn.metrics.normalization import HDRNormalization, normalize_hdr
from hdrsyn.metrics.pu21 import PU21PSNR, PU21SSIM, pu21_encode, pu21_psnr, pu21_ssim
from hdrsyn.metrics.stack import StackMetrics, stack_psnr, stack_scores

__all__ = [
    "CRFCorrected",
    "ColorVideoVDP",
    "HDRNormalization",
    "HDRVDPExporter",
    "LogPSNR",
    "MuLawPSNR",
    "PU21PSNR",
    "PU21SSIM",
    "StackMetrics",
    "color_video_vdp",
    "crf_correct",
    "cvvdp_available",
    "log_psnr",
    "mu_law_psnr",
    "normalize_hdr",
    "pixels_per_degree",
    "pu21_encode",
    "pu21_psnr",
    "pu21_ssim",
    "stack_psnr",
    "stack_scores",
]
