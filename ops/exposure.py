"""Analytic exposure shift of a display-referred image: the physical prior of the stack generator."""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn


def exposure_shift(image: torch.Tensor, ev: float, gamma: float = 2.2) -> torch.Tensor:
    """Re-expose ``image`` by ``ev`` stops through a gamma camera: ``clip((x^gamma 2^ev)^(1/gamma), 0, 1)``.

    Linearise with ``x^gamma``, scale the exposure by ``2**ev``, re-encode with ``1/gamma`` and clip, as a
    camera with response ``E^(1/gamma)`` would have recorded the longer (``ev > 0``) or shorter exposure.
    For ``x >= 0`` this is the gain ``2**(ev / gamma)`` followed by clipping to [0, 1]. Differentiable.

    Args:
        image: display-referred values in [0, 1], any shape (negative values are treated as 0).
        ev: exposure change in stops (+1: twice the exposure time).
        gamma: exponent of the inverse camera response (2.2: sRGB-like).

    Example:
        >>> x = torch.tensor([0.0, 0.25, 0.5, 0.9])
        >>> exposure_shift(x, 1.0)
        tensor([0.0000, 0.3426, 0.6852, 1.0000])
        >>> torch.allclose(exposure_shift(exposure_shift(x, -1.0), 1.0), x.clamp(max=1))
        True
    """
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"Type mismatch: expected Tensor, got {type(image)}.")
    if not image.is_floating_point():
        raise TypeError(f"image must be a floating-point tensor in [0, 1], got {image.dtype}")
    if not gamma > 0:
        raise ValueError(f"gamma must be > 0, got {gamma}")
    if not abs(ev) < 64:
        raise ValueError(f"ev must be a finite number of stops with |ev| < 64, got {ev}")
    return (image.clamp_min(0) * 2.0 ** (ev / gamma)).clamp_max(1)


def exposure_stack(image: torch.Tensor, evs: Iterable[float], gamma: float = 2.2) -> torch.Tensor:
    """The analytic exposure stack ``(B, N, C, H, W)`` of ``image`` ``(B, C, H, W)``: one
    :func:`exposure_shift` per EV of ``evs`` (in that order; EV 0 is the clipped input).

    Example:
        >>> exposure_stack(torch.full((1, 3, 2, 2), 0.5), [-1, 0, 1]).shape
        torch.Size([1, 3, 3, 2, 2])
    """
    return torch.stack([exposure_shift(image, float(ev), gamma) for ev in evs], dim=1)


class ExposureShift(nn.Module):
    """Module form of :func:`exposure_shift` with a fixed ``ev`` and ``gamma``.

    Example:
        >>> ExposureShift(-1.0)(torch.ones(1, 3, 2, 2)).amax().item() < 1
        True
    """

    def __init__(self, ev: float, gamma: float = 2.2) -> None:
        super().__init__()
        exposure_shift(torch.zeros(()), ev, gamma)  # argument checks
        self.ev, self.gamma = float(ev), float(gamma)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return exposure_shift(image, self.ev, self.gamma)

    def extra_repr(self) -> str:
        return f"ev={self.ev}, gamma={self.gamma}"
