"""Debevec's log-domain weighted merge of an exposure stack into radiance, fused for speed and memory."""

from __future__ import annotations

import torch

from ops import native
from ops.checks import check_image
from ops.crf import hat_weights
from ops.layout import empty_like_layout, in_memory_order
from ops.linearize import segment_tables

CHUNK_ELEMENTS = 1 << 18
"""Elements per pass of the merge on CPU: its temporaries stay in cache and are allocated once per call.

Accelerators (caching allocators, launch overhead per op) take the whole stack in one pass."""


def _level_tables(log_inverse_crf: torch.Tensor, log_times: torch.Tensor, dtype: torch.dtype) -> tuple:
    """Lines ``g(x) - ln t_j = offset + x slope`` indexed by ``ceil((n - 1) x)``: ``(B, N, C, n)``, ``(B, C, n)``.

    Index ``k > 0`` holds segment ``[k-1, k]`` (the backward difference of Eq. 3), index 0 (``x = 0``)
    the first segment; slopes are per unit of ``x``.
    """
    offsets, slopes = segment_tables(log_inverse_crf, torch.float64)
    offsets = torch.cat([offsets[..., :1], offsets], -1)[:, None] - log_times.to(torch.float64)[:, :, None, None]
    slopes = torch.cat([slopes[..., :1], slopes], -1) * slopes.shape[-1]
    return offsets.to(dtype).contiguous(), slopes.to(dtype).contiguous()


def _knot_tables(log_inverse_crf: torch.Tensor, log_times: torch.Tensor) -> tuple:
    """For 8-bit stacks: ``g(k) - ln t_j`` ``(B, N, C, n)`` and the hat ``w(k / (n - 1))`` ``(B, C, n)``, float32."""
    g = log_inverse_crf.detach().to(torch.float64)
    values = g[:, None] - log_times.to(torch.float64)[:, :, None, None]
    weights = hat_weights(torch.linspace(0, 1, g.shape[-1], dtype=torch.float64, device=g.device)).expand_as(g)
    return values.float().contiguous(), weights.float().contiguous()


class _Workspace:
    """Scratch buffers of one ``(B, C, L)`` chunk, reused by every exposure and chunk of a call.

    They lie in memory in the stack's order (channel innermost for a stack viewed from ``(H, W, 3)``
    images), so every elementwise op runs on dense, equally strided operands. Table lookups go through
    one flat table per exposure, indexed by ``ceil((n - 1) x) + (b C + c) n``, with the index viewed in
    memory order: ``gather`` then walks contiguous rows whatever the stack's layout.
    """

    def __init__(self, chunk: torch.Tensor, n_levels: int, dtype: torch.dtype, base_dtype: torch.dtype) -> None:
        self.value, self.weight = empty_like_layout(chunk, dtype), empty_like_layout(chunk, dtype)
        self.index = empty_like_layout(chunk, torch.long)
        b, c = chunk.shape[:2]
        base = empty_like_layout(chunk, base_dtype)
        rows = torch.arange(b * c, device=chunk.device).view(b, c, 1) * n_levels
        self.base = base.copy_(rows)  # row (b, c) of the flat tables
        self.rows = b * c

    def _flat(self, buffer: torch.Tensor) -> torch.Tensor:
        return in_memory_order(buffer).view(self.rows, -1)


class _LineWorkspace(_Workspace):
    """For a float stack: ``g`` is the line of the segment ``ceil((n - 1) x)``, evaluated at ``x``."""

    def __init__(self, chunk: torch.Tensor, n_levels: int, dtype: torch.dtype) -> None:
        index_dtype = torch.promote_types(dtype, torch.float32)  # table rows need exact integers past 2048
        super().__init__(chunk, n_levels, dtype, index_dtype)
        self.slope, self.numerator, self.total = (empty_like_layout(chunk, dtype) for _ in range(3))
        self.position, self.index32 = empty_like_layout(chunk, index_dtype), empty_like_layout(chunk, torch.int32)

    def lookup(self, x: torch.Tensor, offsets: torch.Tensor, slopes: torch.Tensor) -> tuple:
        """Hat weight ``w(x)``, ``g(x) - ln t`` and ``dg/dx`` of a ``(B, C, L)`` chunk, in the buffers.

        ``offsets`` and ``slopes`` are ``(B, C, n)`` tables from :func:`_level_tables`.
        """
        n_levels = offsets.shape[-1]
        position = torch.mul(x, n_levels - 1, out=self.position).ceil_().clamp_(0, n_levels - 1)  # ends extrapolate
        position.add_(self.base)  # exact: integers below 2**24
        self.index32.copy_(self.position)  # float -> int32 -> int64 is about 3x faster than float -> int64
        self.index.copy_(self.index32)
        index = self._flat(self.index)
        torch.gather(offsets.reshape(1, -1).expand(self.rows, -1), 1, index, out=self._flat(self.value))
        torch.gather(slopes.reshape(1, -1).expand(self.rows, -1), 1, index, out=self._flat(self.slope))
        self.value.addcmul_(x, self.slope)
        torch.sub(x, 0.5, out=self.weight).abs_().mul_(-2).add_(1)  # Debevec's hat 1 - |2x - 1|
        return self.weight, self.value, self.slope

    def weighted_sums(
        self,
        xs: torch.Tensor,
        offsets: torch.Tensor,
        slopes: torch.Tensor,
        factor: torch.Tensor | None,
        values: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``sum_j w_j (g(x_j) - ln t_j)`` and ``sum_j w_j`` of a ``(B, N, C, L)`` chunk.

        Writes each exposure's ``w_j g'(x_j)`` into ``factor`` and ``g(x_j) - ln t_j`` into ``values``
        when they are given (for the derivative).
        """
        self.numerator.zero_(), self.total.zero_()
        for j in range(xs.shape[1]):
            weight, value, slope = self.lookup(xs[:, j], offsets[:, j], slopes)
            self.numerator.addcmul_(weight, value)
            self.total.add_(weight)
            if factor is not None:
                torch.mul(weight, slope, out=factor[:, j])
            if values is not None:
                values[:, j].copy_(value)
        return self.numerator, self.total


class _KnotWorkspace(_Workspace):
    """For an 8-bit stack the level is the index: ``g(k) - ln t_j`` and ``w(k)`` are read off tables."""

    def __init__(self, chunk: torch.Tensor, n_levels: int, dtype: torch.dtype) -> None:
        super().__init__(chunk, n_levels, dtype, torch.long)
        self.pair, self.sums = empty_like_layout(chunk, torch.complex64), empty_like_layout(chunk, torch.complex64)

    def weighted_sums(self, xs: torch.Tensor, values: torch.Tensor, weights: torch.Tensor, *_: None) -> tuple:
        """``sum_j w_j (g_j - ln t_j)`` and ``sum_j w_j`` of ``(B, N, C, L)`` levels, one lookup per exposure.

        The table ``w (g - ln t) + i w`` is complex, so one gather and one add serve both sums.
        """
        pairs = torch.complex(values * weights[:, None], weights[:, None].expand_as(values))
        self.sums.zero_()
        for j in range(xs.shape[1]):
            index = self._flat(self.index.copy_(xs[:, j]).add_(self.base))
            torch.gather(pairs[:, j].reshape(1, -1).expand(self.rows, -1), 1, index, out=self._flat(self.pair))
            self.sums.add_(self.pair)
        return self.sums.real, self.sums.imag

    def lookup(self, x: torch.Tensor, values: torch.Tensor, weights: torch.Tensor) -> tuple:
        """Hat weight and ``g - ln t`` of a ``(B, C, L)`` uint8 chunk (tables from :func:`_knot_tables`)."""
        index = self._flat(self.index.copy_(x).add_(self.base))
        torch.gather(values.reshape(1, -1).expand(self.rows, -1), 1, index, out=self._flat(self.value))
        torch.gather(weights.reshape(1, -1).expand(self.rows, -1), 1, index, out=self._flat(self.weight))
        return self.weight, self.value, None


def _workspace(chunk: torch.Tensor, n_levels: int, dtype: torch.dtype) -> _Workspace:
    return (_LineWorkspace if chunk.is_floating_point() else _KnotWorkspace)(chunk, n_levels, dtype)


class _WeightedLogMerge(torch.autograd.Function):
    """Forward and backward of :func:`merge_log_radiance`.

    The forward keeps one tensor for the backward, each exposure's derivative ``d ln E / d Z_j``
    (nothing when no gradient is needed), so the backward is one multiply. On a CPU the compiled
    kernels of :mod:`ops.native` do the forward in one pass; otherwise :func:`_merge_in_chunks`.
    """

    @staticmethod
    def forward(ctx, stack, offsets, slopes, log_times, detach_weights: bool, min_weight: float):  # noqa: ANN001
        b, n, c, h, w = stack.shape
        flat = stack.flatten(3)
        factor = empty_like_layout(flat) if ctx.needs_input_grad[0] else None
        ends = log_times.argmin(1), log_times.argmax(1)  # the fallback exposures
        if native.usable(flat):
            merged = native.merge(flat, offsets, slopes, *ends, min_weight, detach_weights, factor)
        else:
            merged = _merge_in_chunks(flat, offsets, slopes, *ends, min_weight, detach_weights, factor)
        ctx.save_for_backward(factor)
        return merged.view(b, c, h, w)

    @staticmethod
    def backward(ctx, grad):  # noqa: ANN001
        (factor,) = ctx.saved_tensors
        b, c, h, w = grad.shape
        grad_stack = factor * grad.flatten(2)[:, None]
        return grad_stack.view(b, -1, c, h, w), None, None, None, None, None


def _merge_in_chunks(  # noqa: ANN001
    flat, offsets, slopes, shortest, longest, min_weight, detach_weights, factor
) -> torch.Tensor:
    """The PyTorch merge of a ``(B, N, C, P)`` stack, ``CHUNK_ELEMENTS`` at a time on CPU.

    Every chunk goes through one small workspace: no full-size temporary is allocated, which on CPU
    is what made the merge slow (page faults). ``factor``, when given, receives ``d ln E / d Z_j``:
    ``(w_j g'_j + w'_j (v_j - ln E)) / sum w`` (the second term only when the weights are not
    detached), or ``g'`` of the fallback exposure.
    """
    b, n, c, pixels = flat.shape
    merged = empty_like_layout(flat[:, 0], offsets.dtype)  # the stack's layout: chunk writes stay dense
    length = max(1, min(pixels, CHUNK_ELEMENTS // (b * c))) if flat.device.type == "cpu" else pixels
    keep_values = factor is not None and not detach_weights  # for the hat's slope term
    work = None
    for start in range(0, pixels, length):
        chunk = slice(start, min(start + length, pixels))
        if work is None or work.value.shape[-1] != chunk.stop - start:  # the first and the last chunk
            work = _workspace(flat[:, 0, :, chunk], offsets.shape[-1], offsets.dtype)
            bad = empty_like_layout(work.value, torch.bool)
            values = empty_like_layout(flat[..., chunk], offsets.dtype) if keep_values else None
        part, out = (None if factor is None else factor[..., chunk]), merged[..., chunk]
        num, tot = work.weighted_sums(flat[..., chunk], offsets, slopes, part, values)
        torch.lt(tot, min_weight, out=bad)
        torch.div(num, tot.clamp_min_(min_weight), out=out)
        if part is not None:
            if values is not None:  # the hat's slope -2 sign(2x - 1) times (ln E_j - ln E)
                part.addcmul_(torch.sign(flat[..., chunk] - 0.5).mul_(-2), values.sub_(out[:, None]))
            part.mul_(tot.reciprocal_().masked_fill_(bad, 0)[:, None])
        if bool(bad.any()):
            _fall_back(flat[..., chunk], offsets, slopes, shortest, longest, bad, out, part)
    return merged


def _fall_back(x, offsets, slopes, shortest, longest, bad, merged, factor) -> None:  # noqa: ANN001
    """Zero-weight pixels of a ``(B, N, C, L)`` chunk take ``g - ln t`` of the shortest exposure, or the longest.

    The shortest where the middle image is bright, else the longest. ``factor`` (zero at those pixels)
    receives the chosen exposure's slope ``g'``.
    """
    b, n = x.shape[:2]
    n_levels = offsets.shape[-1]
    batch = torch.arange(b, device=x.device)
    bright = x[:, n // 2] > (0.5 if x.is_floating_point() else (n_levels - 1) / 2)
    short_x, long_x = x[batch, shortest], x[batch, longest]
    short_work, long_work = _workspace(short_x, n_levels, offsets.dtype), _workspace(long_x, n_levels, offsets.dtype)
    _, short_value, short_slope = short_work.lookup(short_x, offsets[batch, shortest], slopes)
    _, long_value, long_slope = long_work.lookup(long_x, offsets[batch, longest], slopes)
    merged.copy_(torch.where(bad, torch.where(bright, short_value, long_value), merged))
    if factor is not None:
        chosen = torch.where(bright, shortest.view(b, 1, 1), longest.view(b, 1, 1))
        slope = torch.where(bad, torch.where(bright, short_slope, long_slope), 0)
        factor.scatter_add_(1, chosen[:, None], slope[:, None])


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
        stack: ``(B, N, C, H, W)`` in [0, 1], or ``uint8`` levels (no gradient; float32 result).
        log_inverse_crf: ``(B, C, n)`` table of ``g`` (no gradient is taken through it).
        log_times: ``(B, N)`` natural log of the exposure times.
        detach_weights: stop the gradient through the hat weights (as the authors do).
        min_weight: total weight below which a pixel uses the fallback exposure.

    Returns:
        ``(B, C, H, W)`` log radiance.
    """
    if stack.dim() != 5:
        raise ValueError(f"stack must be (B, N, C, H, W), got {tuple(stack.shape)}")
    b, n, c = stack.shape[:3]
    if log_times.shape != (b, n):
        raise ValueError(f"log_times must be ({b}, {n}), got {tuple(log_times.shape)}")
    if not (log_inverse_crf.dim() == 3 and log_inverse_crf.shape[:2] == (b, c)):
        raise ValueError(f"log_inverse_crf must be ({b}, {c}, levels), got {tuple(log_inverse_crf.shape)}")
    if not (stack.is_floating_point() or (stack.dtype == torch.uint8 and log_inverse_crf.shape[-1] == 256)):
        error = ValueError if stack.dtype == torch.uint8 else TypeError  # uint8 with a wrong table: a bad value
        raise error(
            f"stack must be float, or uint8 with a 256-level log_inverse_crf; got {stack.dtype} and "
            f"{log_inverse_crf.shape[-1]} levels"
        )
    check_image(stack, "stack", allow_uint8=True)  # an empty batch or zero-size images
    if stack.is_floating_point():
        offsets, slopes = _level_tables(log_inverse_crf, log_times, stack.dtype)
    else:
        offsets, slopes = _knot_tables(log_inverse_crf, log_times)
    return _WeightedLogMerge.apply(stack, offsets, slopes, log_times, detach_weights, min_weight)
