"""Piecewise-linear application of a tabulated inverse CRF (paper Eq. 2-3)."""

from __future__ import annotations

import torch
from torch import nn


def apply_log_inverse_crf(stack: torch.Tensor, log_inverse_crf: torch.Tensor) -> torch.Tensor:
    """``g(Z)`` for continuous pixel values, linear between table entries (paper Eq. 2-3).

    ``g`` is tabulated at the levels ``k / (n - 1)``. A value ``x`` in ``((k-1)/(n-1), k/(n-1)]`` is
    interpolated on the segment ``[k-1, k]``, so at a level ``x = k/(n-1)`` the value is exactly
    ``g[k]`` and the derivative is the backward difference of Eq. 3 scaled to the [0, 1] input:
    ``dg/dx = (n - 1) (g[k] - g[k-1])``. At ``x = 0`` the first segment's slope ``(n-1)(g[1] - g[0])``
    is used; values outside [0, 1] extrapolate the end segments. The authors' code omitted the ``(n - 1)`` factor and used ``g[0]`` as slope at 0.

    Args:
        stack: ``(B, N, C, H, W)`` pixel values in [0, 1].
        log_inverse_crf: ``(B, C, n)`` table of ``g = ln f^-1`` (no gradient is taken through it).

    Returns:
        ``(B, N, C, H, W)`` ``g(stack)``, differentiable with respect to ``stack``.
    """
    if stack.dim() != 5:
        raise ValueError(f"stack must be (B, N, C, H, W), got {tuple(stack.shape)}")
    b, n, c, h, w = stack.shape
    if not (log_inverse_crf.dim() == 3 and log_inverse_crf.shape[:2] == (b, c)):
        raise ValueError(f"log_inverse_crf must be ({b}, {c}, levels), got {tuple(log_inverse_crf.shape)}")
    offsets, slopes = segment_tables(log_inverse_crf, stack.dtype)
    n_segments = offsets.shape[-1]
    position = stack * n_segments
    segment = (position.detach().ceil() - 1).clamp(0, n_segments - 1).long().view(b, n, c, h * w)
    offset = offsets[:, None].expand(b, n, c, n_segments).gather(-1, segment).view_as(stack)
    slope = slopes[:, None].expand(b, n, c, n_segments).gather(-1, segment).view_as(stack)
    return offset + position * slope


def segment_tables(log_inverse_crf: torch.Tensor, dtype: torch.dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-segment line ``g(p) = offset[k] + p slope[k]`` for ``p = (n - 1) x`` on segment ``[k, k+1]``.

    Returns detached ``offsets`` and ``slopes`` of shape ``(B, C, n - 1)`` in ``dtype``.
    """
    g = log_inverse_crf.detach().to(torch.float64)
    slopes = g.diff(dim=-1)
    offsets = g[..., :-1] - torch.arange(g.shape[-1] - 1, dtype=torch.float64, device=g.device) * slopes
    return offsets.to(dtype), slopes.to(dtype)


class LogInverseCRF(nn.Module):
    """Module form of :func:`apply_log_inverse_crf`."""

    def forward(self, stack: torch.Tensor, log_inverse_crf: torch.Tensor) -> torch.Tensor:
        return apply_log_inverse_crf(stack, log_inverse_crf)
