"""The differentiable HDR synthesis layer (paper Sec. 3.1): CRF recovery, linearisation and merge."""

from __future__ import annotations

from typing import Literal

import torch
from kornia.core.check import KORNIA_CHECK, KORNIA_CHECK_IS_TENSOR
from torch import nn

from ops.crf import sample_grossberg, sample_spatial, solve_debevec
from ops.layout import in_memory_order
from ops.merge import merge_log_radiance
from ops.precision import full_precision

Sampling = Literal["grossberg", "spatial"]
DEFAULT_SAMPLES = {"grossberg": 256, "spatial": 70}


def check_stack(stack: torch.Tensor, exposure_times: torch.Tensor) -> None:
    """Validate a ``(B, N, 3, H, W)`` stack (float in [0, 1], or uint8) and its ``(B, N)`` increasing times."""
    KORNIA_CHECK_IS_TENSOR(stack, "stack must be a tensor")
    KORNIA_CHECK_IS_TENSOR(exposure_times, "exposure_times must be a tensor")
    KORNIA_CHECK(
        stack.dim() == 5 and stack.shape[2] == 3,
        f"stack must be (B, N, 3, H, W), got shape {tuple(stack.shape)}",
    )
    KORNIA_CHECK(
        stack.is_floating_point() or stack.dtype == torch.uint8,
        f"stack must be a float tensor in [0, 1] or an 8-bit (uint8) tensor, got {stack.dtype}",
    )
    b, n = stack.shape[:2]
    KORNIA_CHECK(n >= 2, f"an HDR merge needs at least 2 exposures, got N={n}")
    KORNIA_CHECK(
        exposure_times.shape == (b, n),
        f"exposure_times must be (B, N) = ({b}, {n}), got shape {tuple(exposure_times.shape)}",
    )
    if stack.is_floating_point():
        low, high = torch.aminmax(in_memory_order(stack.detach()))  # no copy of a channels-last view
        KORNIA_CHECK(
            bool(low >= 0) and bool(high <= 1),
            f"stack values must lie in [0, 1], got [{float(low):.4g}, {float(high):.4g}]",
        )
    KORNIA_CHECK(bool((exposure_times > 0).all()), "exposure_times must be positive (seconds or 2**EV)")
    KORNIA_CHECK(
        bool((exposure_times.diff(dim=1) > 0).all()),
        f"exposure_times must be strictly increasing along N (no duplicates), got {exposure_times.tolist()}",
    )


@full_precision
def synthesize_hdr(
    stack: torch.Tensor,
    exposure_times: torch.Tensor,
    sampling: Sampling = "grossberg",
    n_samples: int | None = None,
    smoothness: float = 20.0,
    normalize: bool = True,
    detach_weights: bool = True,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Merge an exposure stack into linear radiance, differentiably with respect to the stack.

    1. Samples (no gradient): Grossberg-Nayar histogram quantiles (HDR Toolbox, VDS ground truth) or
       OpenCV's spatial grid.
    2. Inverse CRF ``g`` per item and channel from Eq. 1 (Debevec & Malik), detached as in the paper.
    3. ``ln E`` by Debevec's hat-weighted log-domain merge of the piecewise-linear ``g`` (Eq. 2-3),
       through which gradients reach every image of the stack.

    Inside autocast (mixed precision) it runs in float32 at least, a half-precision stack cast up.

    Args:
        stack: ``(B, N, 3, H, W)`` exposures, float in [0, 1] (differentiable) or ``uint8`` (8-bit photos,
            as OpenCV takes them: a table lookup per pixel, no gradient, float32 results).
        exposure_times: ``(B, N)`` strictly increasing exposure times (seconds, or relative: 2**EV).
        sampling: ``"grossberg"`` (default, 256 samples) or ``"spatial"`` (OpenCV grid, 70 samples).
        n_samples: number of samples; None picks the sampling's default.
        smoothness: lambda of Eq. 1 (20 as in HDR Toolbox; OpenCV uses 10).
        normalize: scale so that the brightest channel's ``f^-1(1)`` is 1 (one scale per item, colour
            balance kept); otherwise ``g(0.5) = 0`` per channel fixes the scale, as in OpenCV.
        detach_weights: stop the gradient through the merge's hat weights.

    Returns:
        ``radiance`` ``(B, 3, H, W)`` linear and positive, and ``inverse_crf`` ``(B, 3, 256)`` linear
        ``f^-1`` values at the levels ``k / 255``.
    """
    check_stack(stack, exposure_times)
    KORNIA_CHECK(sampling in DEFAULT_SAMPLES, f"sampling must be one of {list(DEFAULT_SAMPLES)}, got {sampling!r}")
    KORNIA_CHECK(smoothness > 0, f"smoothness must be > 0, got {smoothness}")
    log_times = exposure_times.detach().to(torch.float64).log()
    with torch.no_grad():
        count = n_samples or DEFAULT_SAMPLES[sampling]
        sampler = sample_grossberg if sampling == "grossberg" else sample_spatial
        g = solve_debevec(sampler(stack, count), log_times, smoothness)
        if normalize:
            g = g - g[..., -1].amax(-1)[:, None, None]
    log_radiance = merge_log_radiance(stack, g, log_times, detach_weights)
    radiance = log_radiance.exp() if log_radiance.requires_grad else log_radiance.exp_()
    return radiance, g.exp().to(radiance.dtype)


class HDRSynthesis(nn.Module):
    """Module form of :func:`synthesize_hdr` (the paper's differentiable HDR synthesis layer)."""

    def __init__(
        self,
        sampling: Sampling = "grossberg",
        n_samples: int | None = None,
        smoothness: float = 20.0,
        normalize: bool = True,
        detach_weights: bool = True,
    ) -> None:
        super().__init__()
        self.sampling, self.n_samples, self.smoothness = sampling, n_samples, smoothness
        self.normalize, self.detach_weights = normalize, detach_weights

    def forward(self, stack: torch.Tensor, exposure_times: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return synthesize_hdr(
            stack, exposure_times, self.sampling, self.n_samples, self.smoothness, self.normalize, self.detach_weights
        )
