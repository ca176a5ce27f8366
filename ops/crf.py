"""Camera-response recovery (Debevec & Malik 1997; paper Eq. 1) for a batch of exposure stacks.

The inverse CRF ``g(z) = ln f^-1(z)`` is solved from corresponding pixel values ``Z`` (samples) of every
exposure. Two sample selections are provided: Grossberg & Nayar's histogram quantiles (what HDR Toolbox,
and therefore the VDS ground truth, uses) and OpenCV's regular spatial grid. Nothing here is
differentiable: the paper stops the gradient at the solve and linearises ``g`` instead (Eq. 2-3).
"""

from __future__ import annotations

import functools
import itertools
import math

import torch

from ops import native
from ops.layout import empty_like_layout, in_memory_order

N_LEVELS = 256
#: Default lambda of Eq. 1's smoothness term (HDR Toolbox's 20; OpenCV uses 10): of the CRF solve and, through
#: :data:`ops.hdr_synthesis.DEFAULT_SMOOTHNESS`, of the HDR layer everywhere.
DEFAULT_SMOOTHNESS = 20.0


def hat_weights(values: torch.Tensor) -> torch.Tensor:
    """Debevec's hat weighting ``w(z) = 1 - |2z - 1|`` of values in [0, 1] (0 at black and white, 1 at 0.5)."""
    return 1.0 - (2.0 * values - 1.0).abs()


def quantize(stack: torch.Tensor, n_levels: int = N_LEVELS) -> torch.Tensor:
    """Nearest levels ``round((n - 1) x)`` (ties to even) of values in [0, 1], as int64; uint8 values as they are."""
    if stack.dtype == torch.uint8:
        return stack.long()
    exact = stack.detach().to(torch.float64) * (n_levels - 1)  # exact for float32 values: no double rounding
    return exact.round().clamp(0, n_levels - 1).long()


def level_histograms(stack: torch.Tensor, n_levels: int = N_LEVELS, chunk: int = 1 << 20) -> torch.Tensor:
    """``(B, N, C, n_levels)`` counts of the levels ``round((n - 1) x)`` of every image and channel.

    Levels are rounded by adding ``2**23`` in float32 (the integer lands in the low mantissa bits, read
    as int32) and counted ``chunk`` elements at a time in the stack's memory order, channel ``k``
    offset by ``k n_levels`` so one ``bincount`` serves all channels: on CPU this is several times
    faster than float-to-integer casts and full-size temporaries. Rounding is half-to-even, as
    :func:`quantize` (float64 values within ~1e-9 of a half level may round the other way). An 8-bit
    (``uint8``) stack is counted as it is (``n_levels`` 256). On a CPU the compiled kernel of
    :mod:`ops.native` counts the same levels in one pass.
    """
    if stack.dtype == torch.uint8 and n_levels != 256:
        raise ValueError(f"a uint8 stack has 256 levels, got n_levels={n_levels}")
    b, n, c = stack.shape[:3]
    images = stack.detach().flatten(3)
    if native.usable(images):
        return native.histograms(images, n_levels)
    length = max(1, min(images.shape[-1], chunk // c))
    rounded = empty_like_layout(images[0, 0, :, :length], torch.float32)
    magic = torch.tensor(2.0**23, dtype=torch.float32, device=stack.device)
    channel_offsets = n_levels * torch.arange(c, dtype=torch.int32, device=stack.device)[:, None]
    magic_bits = 0x4B000000 if stack.is_floating_point() else 0  # the bits of 2.0**23
    offset = empty_like_layout(rounded, torch.int32).copy_(magic_bits - channel_offsets)  # dense: vectorised sub
    counts = torch.zeros(b, n, c * n_levels, dtype=torch.long, device=stack.device)
    for i, j in itertools.product(range(b), range(n)):
        for start in range(0, images.shape[-1], length):
            values = images[i, j, :, start : start + length]
            bits = rounded[:, : values.shape[-1]].view(torch.int32)
            if values.dtype == torch.uint8:
                bits.copy_(values)
            else:  # float16 / bfloat16 cannot hold 2**23: add in float32
                exact = values if values.dtype.itemsize >= 4 else values.float()
                torch.add(magic, exact, alpha=n_levels - 1, out=bits.view(torch.float32))
                bits.view(torch.float32).clamp_(2.0**23, 2.0**23 + n_levels - 1)  # out of range: 0 or n - 1
            levels = in_memory_order(bits.sub_(offset[:, : bits.shape[-1]])).reshape(-1)
            counts[i, j] += torch.bincount(levels, minlength=c * n_levels)
    return counts.view(b, n, c, n_levels)


def sample_grossberg(stack: torch.Tensor, n_samples: int = 256, n_levels: int = N_LEVELS) -> torch.Tensor:
    """Grossberg & Nayar histogram-quantile samples of a stack.

    For every image and channel the cumulative histogram is read at ``n_samples`` uniform quantiles;
    the level whose CDF is closest gives one sample (ties to the lower level). Because a CRF is
    monotone, the same quantile of every exposure is the same scene irradiance, so no pixel
    correspondence (or alignment) is needed.

    Args:
        stack: ``(B, N, C, H, W)`` in [0, 1].
        n_samples: quantiles per exposure and channel (256 in HDR Toolbox).

    Returns:
        ``(B, C, n_samples, N)`` int64 levels.
    """
    return grossberg_quantiles(level_histograms(stack, n_levels), n_samples)


def grossberg_quantiles(histograms: torch.Tensor, n_samples: int = 256) -> torch.Tensor:
    """:func:`sample_grossberg` from the stack's ``(B, N, C, n_levels)`` :func:`level_histograms`, for
    callers that already counted them: ``(B, C, n_samples, N)`` int64 levels."""
    n_levels = histograms.shape[-1]
    cdf = histograms.cumsum(-1).to(torch.float64)
    cdf = cdf / cdf[..., -1:]
    quantiles = torch.linspace(0.0, 1.0, n_samples, dtype=torch.float64, device=histograms.device)
    quantiles = quantiles.expand(*cdf.shape[:-1], n_samples).contiguous()
    above = torch.searchsorted(cdf, quantiles).clamp_(max=n_levels - 1)  # first level with cdf >= q
    below_value = cdf.gather(-1, (above - 1).clamp_(min=0))
    below = torch.searchsorted(cdf, below_value)  # first level of a run of empty bins
    gap_above = cdf.gather(-1, above) - quantiles
    gap_below = quantiles - below_value
    nearest = torch.where(gap_below <= gap_above, below, above)
    return nearest.permute(0, 2, 3, 1).contiguous()


def spatial_grid(height: int, width: int, n_samples: int = 70) -> tuple[torch.Tensor, torch.Tensor]:
    """Row and column indices of OpenCV's regular sample grid (``CalibrateDebevec(random=False)``)."""
    if not n_samples >= 1:
        raise ValueError(f"n_samples must be >= 1, got {n_samples}")
    x_points = max(1, int(math.sqrt(n_samples * width / height)))
    y_points = max(1, n_samples // x_points)
    step_x, step_y = width // x_points, height // y_points
    xs = torch.arange(x_points) * step_x + step_x // 2
    ys = torch.arange(y_points) * step_y + step_y // 2
    xx, yy = torch.meshgrid(xs, ys, indexing="ij")  # x-major order, as OpenCV pushes its points
    keep = (xx < width) & (yy < height)
    return yy[keep], xx[keep]


def sample_spatial(stack: torch.Tensor, n_samples: int = 70, n_levels: int = N_LEVELS) -> torch.Tensor:
    """Pixel samples on OpenCV's regular grid, ``(B, C, P, N)`` int64 levels (P <= n_samples)."""
    rows, cols = spatial_grid(stack.shape[-2], stack.shape[-1], n_samples)
    picked = stack.detach()[..., rows.to(stack.device), cols.to(stack.device)]  # (B, N, C, P)
    return quantize(picked, n_levels).permute(0, 2, 3, 1).contiguous()


@functools.lru_cache(maxsize=16)
def _smoothness_matrix(smoothness: float, n_levels: int, device: torch.device) -> torch.Tensor:
    """``lambda^2 K^T diag(w)^2 K`` for the second-difference operator K on interior levels."""
    z = torch.arange(1, n_levels - 1, device=device)
    second = torch.zeros(n_levels - 2, n_levels, dtype=torch.float64, device=device)
    rows = torch.arange(n_levels - 2, device=device)
    second[rows, z - 1], second[rows, z], second[rows, z + 1] = 1.0, -2.0, 1.0
    w = hat_weights(z.to(torch.float64) / (n_levels - 1))
    weighted = smoothness * w[:, None] * second
    return weighted.T @ weighted


def solve_debevec(
    samples: torch.Tensor,
    log_times: torch.Tensor,
    smoothness: float = DEFAULT_SMOOTHNESS,
    n_levels: int = N_LEVELS,
    ridge: float = 1e-10,
    refinements: int = 3,
) -> torch.Tensor:
    """Log inverse CRF ``g`` minimising paper Eq. 1 for every item and channel at once.

    ``sum_ij w(Z_ij)^2 [g(Z_ij) - ln E_i - ln t_j]^2 + lambda^2 sum_z w(z)^2 g''(z)^2`` with ``g(n/2) = 0``.
    The per-sample unknowns ``ln E_i`` are eliminated exactly (their normal-equation block is diagonal),
    leaving one ``(n-1) x (n-1)`` symmetric positive semi-definite system per item and channel, solved
    by a float64 Cholesky factorisation with a tiny relative ridge followed by iterative refinement. The
    ridge makes rank-deficient systems (samples black or white in every exposure, a flat image)
    deterministic: directions the data does not determine get the minimum-norm value instead of a
    LAPACK driver's choice; the refinement steps remove its bias on every determined direction.

    Args:
        samples: ``(B, C, P, N)`` integer levels of P corresponding samples in N exposures.
        log_times: ``(B, N)`` natural log of the exposure times.
        smoothness: lambda of Eq. 1 (20 in HDR Toolbox, 10 in OpenCV).
        ridge: Tikhonov weight relative to the mean diagonal of the system.
        refinements: iterative-refinement steps after the regularised solve.

    Returns:
        ``(B, C, n_levels)`` float64 ``g``, with ``g[n_levels // 2] = 0``.
    """
    if samples.dim() != 4:
        raise ValueError(f"samples must be (B, C, P, N), got {tuple(samples.shape)}")
    b, c, p, n = samples.shape
    if log_times.shape != (b, n):
        raise ValueError(f"log_times must be ({b}, {n}), got {tuple(log_times.shape)}")
    device = samples.device
    levels = torch.arange(n_levels, dtype=torch.float64, device=device) / (n_levels - 1)
    w2 = hat_weights(levels)[samples] ** 2  # (B, C, P, N)
    lt = log_times.to(torch.float64)[:, None, None, :].expand_as(w2)

    # Normal equations: data block on g is diagonal, coupling block M, ln E block diagonal D.
    diag_g = torch.zeros(b, c, n_levels, dtype=torch.float64, device=device)
    diag_g.scatter_add_(-1, samples.flatten(2), w2.flatten(2))
    rhs_g = torch.zeros_like(diag_g).scatter_add_(-1, samples.flatten(2), (w2 * lt).flatten(2))
    coupling = torch.zeros(b, c, p, n_levels, dtype=torch.float64, device=device)
    coupling.scatter_add_(-1, samples, w2)  # M[i, z] = sum_j w_ij^2 [Z_ij = z]
    d = w2.sum(-1)
    inv_d = torch.where(d > 0, 1.0 / d.clamp_min(1e-300), torch.zeros_like(d))
    rhs_e = -(w2 * lt).sum(-1)

    scaled = coupling * inv_d[..., None]
    system = torch.diag_embed(diag_g) + _smoothness_matrix(smoothness, n_levels, device)
    system = system - scaled.transpose(-1, -2) @ coupling
    rhs = rhs_g + (scaled.transpose(-1, -2) @ rhs_e[..., None]).squeeze(-1)

    keep = torch.arange(n_levels, device=device) != n_levels // 2  # g(n/2) = 0 eliminated
    system_kept = system[..., keep, :][..., keep]
    scale = system_kept.diagonal(dim1=-2, dim2=-1).mean(-1, keepdim=True)[..., None]
    reduced = system_kept + ridge * scale * torch.eye(n_levels - 1, dtype=torch.float64, device=device)
    factor, info = torch.linalg.cholesky_ex(reduced)
    if not bool((info == 0).all()):
        raise ValueError(
            f"the CRF system (smoothness={smoothness}, log exposure times {log_times.tolist()}) is not positive "
            "definite; use a smoothness near 20 and exposure times within a few hundred stops"
        )
    target = rhs[..., keep, None]
    solution = torch.cholesky_solve(target, factor)
    for _ in range(refinements):  # iterative refinement removes the ridge's bias on determined directions
        solution = solution + torch.cholesky_solve(target - system_kept @ solution, factor)
    solution = solution.squeeze(-1)
    g = torch.zeros(b, c, n_levels, dtype=torch.float64, device=device)
    g[..., keep] = solution
    return g
