"""The differentiable HDR synthesis layer (paper Sec. 3.1): CRF recovery, linearisation and merge."""

from __future__ import annotations

import numbers
import warnings
from typing import Literal

import torch
from torch import nn

from ops.checks import check_image
from ops.crf import DEFAULT_SMOOTHNESS, N_LEVELS, hat_weights, sample_grossberg, sample_spatial, solve_debevec
from ops.layout import in_memory_order
from ops.merge import merge_log_radiance
from ops.precision import full_precision

Sampling = Literal["grossberg", "spatial"]
DEFAULT_SAMPLES = {"grossberg": 256, "spatial": 70}
#: The HDR layer's default sampling, named once: every merge (training, inference, baselines, CLI) takes it, and
#: DEFAULT_SMOOTHNESS (Eq. 1's lambda, defined with the CRF solve in :mod:`ops.crf`), from this module.
DEFAULT_SAMPLING: Sampling = "grossberg"
#: Largest accepted CRF smoothness lambda (HDR Toolbox uses 20, OpenCV 10; far larger values swamp the data).
MAX_SMOOTHNESS = 1000.0
#: Least share of samples well exposed in two exposures (see :func:`coverage`) before a merge warns.
MIN_COVERAGE = 0.01


def check_stack(stack: torch.Tensor, exposure_times: torch.Tensor) -> None:
    """Validate a ``(B, N, 3, H, W)`` stack (float in [0, 1], or uint8) and its ``(B, N)`` increasing times.

    Raises ``TypeError`` for a non-tensor or a wrong dtype and ``ValueError`` for bad shapes or values.
    """
    if not isinstance(stack, torch.Tensor) or not isinstance(exposure_times, torch.Tensor):
        raise TypeError("stack and exposure_times must be tensors")
    if stack.dim() != 5 or stack.shape[2] != 3:
        raise ValueError(f"stack must be (B, N, 3, H, W), got shape {tuple(stack.shape)}")
    if not (stack.is_floating_point() or stack.dtype == torch.uint8):
        raise TypeError(f"stack must be a float tensor in [0, 1] or an 8-bit (uint8) tensor, got {stack.dtype}")
    check_image(stack, "stack", allow_uint8=True)  # an empty batch or zero-size images
    b, n = stack.shape[:2]
    if n < 2:
        raise ValueError(f"an HDR merge needs at least 2 exposures, got N={n}")
    if exposure_times.shape != (b, n):
        raise ValueError(f"exposure_times must be (B, N) = ({b}, {n}), got shape {tuple(exposure_times.shape)}")
    if stack.is_floating_point():
        low, high = torch.aminmax(in_memory_order(stack.detach()))  # no copy of a channels-last view
        if low.isnan() or high.isnan():
            raise ValueError("stack contains NaN")
        if low < 0 or high > 1:
            raise ValueError(f"stack values must lie in [0, 1], got [{float(low):.4g}, {float(high):.4g}]")
    if not bool((torch.isfinite(exposure_times) & (exposure_times > 0)).all()):
        raise ValueError(
            f"exposure_times must be finite and positive (seconds or 2**EV), got {exposure_times.tolist()}"
        )
    if not bool((exposure_times.diff(dim=1) > 0).all()):
        raise ValueError(
            f"exposure_times must be strictly increasing along N (no duplicates), got {exposure_times.tolist()}"
        )


def check_smoothness(smoothness: float) -> None:
    """Raise ``ValueError`` unless the CRF smoothness lambda is a number in (0, :data:`MAX_SMOOTHNESS`]."""
    if not isinstance(smoothness, numbers.Real) or not 0 < smoothness <= MAX_SMOOTHNESS:
        raise ValueError(f"smoothness must be a number in (0, {MAX_SMOOTHNESS:g}] (default 20), got {smoothness!r}")


def coverage(samples: torch.Tensor, n_levels: int = N_LEVELS) -> torch.Tensor:
    """``(B,)`` share of the ``(B, C, P, N)`` samples that are well exposed in at least two exposures.

    Only such samples tie the exposures together in Eq. 1; "well exposed" is a hat weight of at least
    0.1 (levels 5-95 %). Below :data:`MIN_COVERAGE` the stack is black, clipped or its exposures too far
    apart, and the recovered response is a guess.
    """
    levels = samples.to(torch.float64) / (n_levels - 1)
    good = (hat_weights(levels) >= 0.1).sum(-1) >= 2
    return good.flatten(1).to(torch.float64).mean(-1)


@full_precision
def synthesize_hdr(
    stack: torch.Tensor,
    exposure_times: torch.Tensor,
    sampling: Sampling = DEFAULT_SAMPLING,
    n_samples: int | None = None,
    smoothness: float = DEFAULT_SMOOTHNESS,
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

    Example:
        >>> import torch
        >>> radiance = torch.logspace(-1.5, 0.5, 256).view(1, 1, 16, 16).expand(1, 3, 16, 16)  # 100:1 scene
        >>> times = torch.tensor([[0.25, 1.0, 4.0]])
        >>> stack = (radiance[:, None] * times[:, :, None, None, None]).clamp(0, 1) ** (1 / 2.2)  # gamma camera
        >>> hdr, inverse_crf = synthesize_hdr(stack, times)
        >>> tuple(hdr.shape), tuple(inverse_crf.shape)
        ((1, 3, 16, 16), (1, 3, 256))
        >>> round(float(hdr.max() / hdr.min()))  # the scene's contrast, recovered up to one scale
        99
    """
    check_stack(stack, exposure_times)
    if sampling not in DEFAULT_SAMPLES:
        raise ValueError(f"sampling must be one of {list(DEFAULT_SAMPLES)}, got {sampling!r}")
    if n_samples is not None and (not isinstance(n_samples, int) or n_samples < 2):
        raise ValueError(f"n_samples must be an integer >= 2 or None, got {n_samples!r}")
    check_smoothness(smoothness)
    log_times = exposure_times.detach().to(torch.float64).log()
    with torch.no_grad():
        count = n_samples or DEFAULT_SAMPLES[sampling]
        samples = (sample_grossberg if sampling == "grossberg" else sample_spatial)(stack, count)
        if bool((coverage(samples) < MIN_COVERAGE).any()):
            warnings.warn(
                "HDR synthesis: almost no pixel is well exposed in two or more exposures (a black or clipped "
                "stack, or exposures too far apart); the recovered response and radiance are unreliable",
                RuntimeWarning,
                stacklevel=2,
            )
        g = solve_debevec(samples, log_times, smoothness)
        if normalize:
            g = g - g[..., -1].amax(-1)[:, None, None]
    log_radiance = merge_log_radiance(stack, g, log_times, detach_weights)
    radiance = log_radiance.exp() if log_radiance.requires_grad else log_radiance.exp_()
    return radiance, g.exp().to(radiance.dtype)


class HDRSynthesis(nn.Module):
    """Module form of :func:`synthesize_hdr` (the paper's differentiable HDR synthesis layer).

    Example:
        >>> import torch
        >>> radiance = torch.logspace(-1.5, 0.5, 256).view(1, 1, 16, 16).expand(2, 3, 16, 16)
        >>> times = torch.tensor([[0.25, 1.0, 4.0]]).expand(2, 3)
        >>> stack = ((radiance[:, None] * times[:, :, None, None, None]).clamp(0, 1) ** (1 / 2.2)).requires_grad_()
        >>> hdr, _ = HDRSynthesis(sampling="spatial")(stack, times)
        >>> hdr.mean().backward()  # gradients reach every exposure
        >>> tuple(stack.grad.shape), bool(stack.grad[:, 0].abs().sum() > 0)
        ((2, 3, 3, 16, 16), True)
    """

    def __init__(
        self,
        sampling: Sampling = DEFAULT_SAMPLING,
        n_samples: int | None = None,
        smoothness: float = DEFAULT_SMOOTHNESS,
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
