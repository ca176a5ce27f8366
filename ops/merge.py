"""Debevec's log-domain weighted merge of an exposure stack into radiance."""

from __future__ import annotations

import torch
from kornia.core.check import KORNIA_CHECK

from ops.crf import hat_weights
from ops.linearize import apply_log_inverse_crf


def merge_log_radiance(
    stack: torch.Tensor,
    log_inverse_crf: torch.Tensor,
    log_times: torch.Tensor,
    detach_weights: bool = True,
    min_weight: float = 1e-4,
) -> torch.Tensor:
    """Log radiance ``ln E = sum_j w(Z_j) (g(Z_j) - ln t_j) / sum_j w(Z_j)`` (Debevec & Malik, Eq. 6).

    ``g(Z)`` is the piecewise-linear inverse CRF (paper Eq. 2-3) so gradients reach every exposure.
    A pixel whose total hat weight is below ``min_weight`` (white or black in every exposure) takes
    its value from the shortest exposure when it is bright in the middle exposure, else from the
    longest, instead of producing NaN, 0 or a dark hole.

    Args:
        stack: ``(B, N, C, H, W)`` in [0, 1].
        log_inverse_crf: ``(B, C, n)`` table of ``g``.
        log_times: ``(B, N)`` natural log of the exposure times.
        detach_weights: stop the gradient through the hat weights (as the authors do).
        min_weight: total weight below which a pixel uses the fallback exposure.

    Returns:
        ``(B, C, H, W)`` log radiance.
    """
    b, n = stack.shape[:2]
    KORNIA_CHECK(log_times.shape == (b, n), f"log_times must be ({b}, {n}), got {tuple(log_times.shape)}")
    per_exposure = apply_log_inverse_crf(stack, log_inverse_crf) - log_times.to(stack.dtype)[..., None, None, None]
    weights = hat_weights(stack.detach() if detach_weights else stack)
    total = weights.sum(1)
    merged = (weights * per_exposure).sum(1) / total.clamp_min(min_weight)

    shortest = log_times.argmin(1).view(b, 1, 1, 1, 1).expand(b, 1, *stack.shape[2:])
    longest = log_times.argmax(1).view(b, 1, 1, 1, 1).expand(b, 1, *stack.shape[2:])
    bright = stack[:, n // 2].detach() > 0.5
    fallback = torch.where(bright, per_exposure.gather(1, shortest)[:, 0], per_exposure.gather(1, longest)[:, 0])
    return torch.where(total >= min_weight, merged, fallback)
