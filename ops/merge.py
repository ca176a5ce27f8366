"""Debevec's log-domain weighted merge of an exposure stack into radiance, fused for speed and memory."""

from __future__ import annotations

import torch
from kornia.core.check import KORNIA_CHECK

from ops.linearize import segment_tables


def _lookup(x: torch.Tensor, offsets: torch.Tensor, slopes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``g(x) - ln t`` and ``dg/dx`` of ``(B, C, H, W)`` values from per-segment tables ``(B, C, n-1)``."""
    n_segments = offsets.shape[-1]
    position = x * n_segments
    segment = position.ceil().sub_(1).clamp_(0, n_segments - 1).long().flatten(2)
    slope = slopes.gather(-1, segment).view_as(x)
    return torch.addcmul(offsets.gather(-1, segment).view_as(x), position, slope), slope * n_segments


class _WeightedLogMerge(torch.autograd.Function):
    """Forward and backward of :func:`merge_log_radiance`, one exposure at a time.

    Autograd on the composed expression keeps about a dozen full-stack temporaries; here the forward
    keeps only each exposure's derivative factor ``w_j g'(Z_j)`` (and ``ln E_j`` when the weights are
    differentiated), nothing when no gradient is needed, so the backward is a multiply per exposure.
    """

    @staticmethod
    def forward(ctx, stack, offsets, slopes, log_times, detach_weights: bool, min_weight: float):  # noqa: ANN001
        b, n = stack.shape[:2]
        need_grad = ctx.needs_input_grad[0]
        per_exposure = torch.empty_like(stack) if need_grad and not detach_weights else None
        factor = torch.empty_like(stack) if need_grad else None
        numerator, total = torch.zeros_like(stack[:, 0]), torch.zeros_like(stack[:, 0])
        for j in range(n):
            value, slope = _lookup(stack[:, j], offsets[:, j], slopes[:, j])
            weight = 1 - (2 * stack[:, j] - 1).abs()
            numerator.addcmul_(weight, value)
            total.add_(weight)
            if factor is not None:
                factor[:, j] = weight * slope
            if per_exposure is not None:
                per_exposure[:, j] = value
        merged = numerator / total.clamp_min(min_weight)
        valid = total >= min_weight
        ctx.fallback = None
        if not bool(valid.all()):  # shortest exposure where the middle image is bright, else longest
            batch = torch.arange(b, device=stack.device)
            short, long = log_times.argmin(1), log_times.argmax(1)
            bright = stack[:, n // 2] > 0.5
            short_value, short_slope = _lookup(stack[batch, short], offsets[batch, short], slopes[batch, short])
            long_value, long_slope = _lookup(stack[batch, long], offsets[batch, long], slopes[batch, long])
            merged = torch.where(valid, merged, torch.where(bright, short_value, long_value))
            index = torch.where(bright, short.view(b, 1, 1, 1), long.view(b, 1, 1, 1)).expand_as(merged)
            ctx.fallback = (index, torch.where(bright, short_slope, long_slope))
        ctx.detach_weights = detach_weights
        ctx.save_for_backward(stack, per_exposure, factor, total, merged, valid)
        return merged

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001
        stack, per_exposure, factor, total, merged, valid = ctx.saved_tensors
        share = torch.where(valid, grad / total.clamp_min(1e-30), torch.zeros_like(grad))[:, None]
        grad_stack = factor * share
        if not ctx.detach_weights:  # the hat's slope -2 sign(2x - 1) times (ln E_j - ln E) / W
            grad_stack += -2 * torch.sign(2 * stack - 1) * (per_exposure - merged[:, None]) * share
        if ctx.fallback is not None:
            index, slope = ctx.fallback
            grad_stack.scatter_add_(1, index[:, None], torch.where(valid, 0, grad * slope)[:, None])
        return grad_stack, None, None, None, None, None


def merge_log_radiance(
    stack: torch.Tensor,
    log_inverse_crf: torch.Tensor,
    log_times: torch.Tensor,
    detach_weights: bool = True,
    min_weight: float = 1e-4,
) -> torch.Tensor:
    """Log radiance ``ln E = sum_j w(Z_j) (g(Z_j) - ln t_j) / sum_j w(Z_j)`` (Debevec & Malik, Eq. 6).

    ``g(Z)`` is the piecewise-linear inverse CRF (paper Eq. 2-3, see
    :func:`ops.linearize.apply_log_inverse_crf`) so gradients reach every exposure; ``w`` is Debevec's hat
    ``1 - |2Z - 1|`` per channel. A pixel whose total weight is below ``min_weight`` (white or black in
    every exposure) takes its value from the shortest exposure when it is bright in the middle
    exposure, else from the longest, instead of producing NaN, 0 or a dark hole.

    Args:
        stack: ``(B, N, C, H, W)`` in [0, 1].
        log_inverse_crf: ``(B, C, n)`` table of ``g`` (no gradient is taken through it).
        log_times: ``(B, N)`` natural log of the exposure times.
        detach_weights: stop the gradient through the hat weights (as the authors do).
        min_weight: total weight below which a pixel uses the fallback exposure.

    Returns:
        ``(B, C, H, W)`` log radiance.
    """
    KORNIA_CHECK(stack.dim() == 5, f"stack must be (B, N, C, H, W), got {tuple(stack.shape)}")
    b, n = stack.shape[:2]
    KORNIA_CHECK(log_times.shape == (b, n), f"log_times must be ({b}, {n}), got {tuple(log_times.shape)}")
    offsets, slopes = segment_tables(log_inverse_crf, stack.dtype)
    offsets = offsets[:, None] - log_times.to(stack.dtype)[:, :, None, None]  # fold -ln t_j into the table
    slopes = slopes[:, None].expand_as(offsets)
    return _WeightedLogMerge.apply(stack, offsets, slopes, log_times, detach_weights, min_weight)
