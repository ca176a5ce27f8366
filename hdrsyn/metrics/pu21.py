"""PU21 perceptually uniform encoding (Mantiuk & Azimi, PCS 2021) and the PU21-PSNR / PU21-SSIM metrics.

PU21 maps absolute linear luminance ``Y`` (cd/m²) to roughly perceptually uniform code values, so
that SDR metrics can be applied to HDR images; 100 cd/m² encodes to ≈ 256, like 8-bit SDR white.
Following the authors' ``pu21_metric.m``: PSNR is computed on all three PU-encoded RGB channels
with peak 256, SSIM on PU-encoded luminance with dynamic range 256. Inputs must be absolute, hence
the default normalisation (reference 0.1 / 99.9 % luminance percentiles -> 1..1000 cd/m²).
"""

from __future__ import annotations

import math

from torch import Tensor
from torchmetrics.functional.image import structural_similarity_index_measure

from hdrsyn.metrics.base import PerImageHDRMetric, normalized_pair
from hdrsyn.metrics.normalization import PERCENTILE_1_1000, HDRNormalization
from ops.tonemap import luminance

#: ``banding_glare`` parameters p1..p7 of the PU21 paper (the variant its authors recommend).
PU21_BANDING_GLARE = (
    0.353487901,
    0.3734658629,
    8.277049286e-05,
    0.9062562627,
    0.09150303166,
    0.9099517204,
    596.3148142,
)
#: Luminance range (cd/m²) on which PU21 is defined; inputs are clamped to it.
PU21_L_MIN, PU21_L_MAX = 0.005, 10000.0
#: Peak code value used by the PU21 metrics (``psnr(T, R, 256)``, ``ssim(..., 'DynamicRange', 256)``).
PU21_PEAK = 256.0


def pu21_encode(y: Tensor) -> Tensor:
    """PU21 code values ``V = p7 * (((p1 + p2 Y^p4) / (1 + p3 Y^p4))^p5 - p6)``, ``Y`` clamped to [0.005, 10000]."""
    p1, p2, p3, p4, p5, p6, p7 = PU21_BANDING_GLARE
    y_p = y.clamp(PU21_L_MIN, PU21_L_MAX) ** p4
    return p7 * (((p1 + p2 * y_p) / (1 + p3 * y_p)) ** p5 - p6)


def pu21_psnr(
    preds: Tensor, target: Tensor, normalization: HDRNormalization | None = PERCENTILE_1_1000
) -> Tensor:
    """Per-image PSNR (dB) of PU21-encoded RGB, peak 256, ``(B,)``; ``normalization`` makes the pair absolute.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> [round(x, 1) for x in pu21_psnr(pred, ref).tolist()]
        [29.8, 28.5]
    """
    preds, target = normalized_pair(preds, target, normalization)
    mse = (pu21_encode(preds) - pu21_encode(target)).square().flatten(1).mean(1)
    return 20 * math.log10(PU21_PEAK) - 10 * mse.log10()


def pu21_ssim(
    preds: Tensor, target: Tensor, normalization: HDRNormalization | None = PERCENTILE_1_1000
) -> Tensor:
    """Per-image SSIM of PU21-encoded luminance, data range 256, ``(B,)``.

    torchmetrics' SSIM (11-px Gaussian window, sigma 1.5, reflected borders cropped), so values differ
    slightly from MATLAB's ``ssim`` near image borders.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> [round(x, 3) for x in pu21_ssim(pred, ref).tolist()], pu21_ssim(ref, ref).tolist()
        ([0.997, 0.996], [1.0, 1.0])
    """
    preds, target = normalized_pair(preds, target, normalization)
    return structural_similarity_index_measure(
        pu21_encode(luminance(preds)), pu21_encode(luminance(target)), data_range=PU21_PEAK, reduction="none"
    )


class PU21PSNR(PerImageHDRMetric):
    """:func:`pu21_psnr` per image. ``compute()`` -> ``{"pu21_psnr", "pu21_psnr_std"}``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> metric = PU21PSNR()
        >>> metric.update(pred, ref)
        >>> {key: round(float(value), 2) for key, value in metric.compute().items()}
        {'pu21_psnr': 29.16, 'pu21_psnr_std': 0.67}
    """

    key = "pu21_psnr"

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return pu21_psnr(preds, target, self.normalization)


class PU21SSIM(PerImageHDRMetric):
    """:func:`pu21_ssim` per image. ``compute()`` -> ``{"pu21_ssim", "pu21_ssim_std"}``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> metric = PU21SSIM()
        >>> metric.update(pred, ref)
        >>> {key: round(float(value), 3) for key, value in metric.compute().items()}
        {'pu21_ssim': 0.997, 'pu21_ssim_std': 0.0}
    """

    key = "pu21_ssim"

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return pu21_ssim(preds, target, self.normalization)
