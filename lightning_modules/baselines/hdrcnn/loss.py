"""HDRCNN's illuminance / reflectance loss in the log domain (Eilertsen et al. 2017, Eq. 6-7)."""

from __future__ import annotations

import math

import torch
from kornia.filters import gaussian_blur2d

from ops.precision import full_precision
from ops.tonemap import luminance


@full_precision
def hdrcnn_loss(
    log_pred: torch.Tensor,
    target: torch.Tensor,
    alpha: torch.Tensor,
    lambda_ir: float = 0.5,
    sigma: float = 2.0,
    eps: float = 1 / 255,
) -> torch.Tensor:
    """Illuminance / reflectance loss in the log domain, restricted to the blended pixels (Eilertsen et al. Eq. 6-7).

    With ``y = log(H + eps)``, the illuminance ``I = G_sigma * log(Y)`` is the Gaussian-blurred log
    luminance of ``exp(y)`` and the reflectance is ``R = y - I`` (per channel). Then
    ``L = 1/N sum_i alpha_i [lambda (I_hat_i - I_i)^2 + (1 - lambda)/3 sum_c (R_hat_ic - R_ic)^2]``.

    Args:
        log_pred: ``y_hat`` ``(B, 3, H, W)``.
        target: linear ground-truth HDR ``(B, 3, H, W)`` on the scale of ``D^gamma``.
        alpha: blend mask ``(B, 1, H, W)``.
        lambda_ir: ``lambda`` (paper 0.5).
        sigma: standard deviation of the illuminance low-pass filter in pixels (paper 2).
        eps: offset of the log domain.
    """
    if log_pred.shape != target.shape:
        raise ValueError(f"shapes differ: {tuple(log_pred.shape)} vs {tuple(target.shape)}")
    if not 0 <= lambda_ir <= 1:
        raise ValueError(f"lambda_ir must be in [0, 1], got {lambda_ir}")
    log_target = torch.log(target.clamp_min(0) + eps)
    size = 2 * math.ceil(3 * sigma) + 1

    def illuminance(log_hdr: torch.Tensor) -> torch.Tensor:
        return gaussian_blur2d(torch.log(luminance(log_hdr.exp())), (size, size), (sigma, sigma))

    illum_pred, illum_target = illuminance(log_pred), illuminance(log_target)
    illum_error = (illum_pred - illum_target).square()
    reflect_error = ((log_pred - illum_pred) - (log_target - illum_target)).square().mean(dim=1, keepdim=True)
    return (alpha * (lambda_ir * illum_error + (1 - lambda_ir) * reflect_error)).mean()
