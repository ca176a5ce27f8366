"""Evaluation metrics: exposure-stack PSNR/SSIM/MS-SSIM and HDR metrics under one normalisation protocol."""

from hdrsyn.metrics.colorvideovdp import ColorVideoVDP
from hdrsyn.metrics.display import pixels_per_degree
from hdrsyn.metrics.export import HDRVDPExporter
from hdrsyn.metrics.hdr_psnr import LogPSNR, MuLawPSNR
from hdrsyn.metrics.normalization import HDRNormalization, normalize_hdr
from hdrsyn.metrics.pu21 import PU21PSNR, PU21SSIM, pu21_encode
from hdrsyn.metrics.stack import StackMetrics

__all__ = [
    "ColorVideoVDP",
    "HDRNormalization",
    "HDRVDPExporter",
    "LogPSNR",
    "MuLawPSNR",
    "PU21PSNR",
    "PU21SSIM",
    "StackMetrics",
    "normalize_hdr",
    "pixels_per_degree",
    "pu21_encode",
]
