"""Differentiable tone-mapping operators: mu-law (the HDR loss's compressor) and Reinhard 2002 (global)."""

from __future__ import annotations

import math

import torch
from kornia.color import rgb_to_grayscale
from torch import nn

from ops.checks import check_image

#: Rec. 709 / sRGB luminance weights for linear RGB.
BT709_WEIGHTS = (0.2126, 0.7152, 0.0722)


def luminance(hdr: torch.Tensor) -> torch.Tensor:
    """Linear Rec. 709 luminance of a ``(..., 3, H, W)`` linear RGB image, shape ``(..., 1, H, W)``."""
    if hdr.dim() < 3 or hdr.shape[-3] != 3:
        raise ValueError(f"Not a color tensor. Got shape {list(hdr.shape)}.\nhdr must be (*, 3, H, W) linear RGB")
    weights = torch.tensor(BT709_WEIGHTS, dtype=hdr.dtype, device=hdr.device)
    return rgb_to_grayscale(hdr, rgb_weights=weights)


def mu_law(hdr: torch.Tensor, mu: float = 5000.0) -> torch.Tensor:
    """mu-law range compression ``log(1 + mu x) / log(1 + mu)`` used by the HDR loss (paper Eq. 7).

    ``hdr`` is clamped at 0 so that slightly negative predictions stay finite.
    """
    if not isinstance(hdr, torch.Tensor):
        raise TypeError(f"Type mismatch: expected Tensor, got {type(hdr)}.")
    if not hdr.is_floating_point():
        raise TypeError(f"hdr must be a floating-point tensor, got {hdr.dtype}")
    if not mu > 0:
        raise ValueError(f"mu must be > 0, got {mu}")
    return torch.log1p(mu * hdr.clamp_min(0)) / math.log1p(mu)


def reinhard_global(
    hdr: torch.Tensor, key: float = 0.18, white: float | None = None, eps: float = 1e-6
) -> torch.Tensor:
    """Reinhard et al. 2002 global photographic operator, per image, output in [0, 1].

    Luminance is scaled so that its log-average maps to ``key``; ``L_d = L (1 + L / L_white^2) / (1 + L)``
    with ``L_white`` the largest scaled luminance when ``white`` is None. Colour ratios are kept.

    Args:
        hdr: ``(B, 3, H, W)`` non-negative linear RGB.
        key: the "key" (middle grey) of the scene, 0.18 in the paper.
        white: smallest luminance mapped to pure white (in scaled units); None = image maximum.
    """
    if hdr.dim() < 3 or hdr.shape[-3] != 3:
        raise ValueError(f"Not a color tensor. Got shape {list(hdr.shape)}.\nhdr must be (B, 3, H, W) linear RGB")
    if hdr.dim() != 4:
        raise ValueError(f"hdr must be (B, 3, H, W), got shape {tuple(hdr.shape)}")
    check_image(hdr, "hdr")
    hdr = hdr.clamp_min(0)
    lum = luminance(hdr)
    log_avg = torch.exp(torch.log(lum + eps).mean(dim=(-3, -2, -1), keepdim=True))
    scaled = key / log_avg * lum
    if white is None:
        l_white = scaled.amax(dim=(-3, -2, -1), keepdim=True).clamp_min(eps)
    else:
        l_white = torch.as_tensor(white, dtype=hdr.dtype, device=hdr.device)
    display = scaled * (1 + scaled / l_white**2) / (1 + scaled)
    return (hdr * (display / (lum + eps))).clamp(0, 1)


def gamma_encode(linear: torch.Tensor, gamma: float = 2.2) -> torch.Tensor:
    """Display encoding ``x^(1/gamma)`` of a [0, 1] linear image (for previews)."""
    if not isinstance(linear, torch.Tensor) or not linear.is_floating_point():
        raise TypeError(f"linear must be a floating-point tensor in [0, 1], got {getattr(linear, 'dtype', type(linear))}")
    return linear.clamp(0, 1) ** (1.0 / gamma)


def hdr_preview(radiance: torch.Tensor) -> torch.Tensor:
    """The display version ``(B, 3, H, W)`` in [0, 1] of linear HDR ``(B, 3, H, W)`` shown everywhere (test
    previews, ``hdrsyn reconstruct`` / ``merge`` previews, contact sheets): Reinhard's global operator
    (:func:`reinhard_global`, key 0.18), then gamma 2.2.

    Example:
        >>> preview = hdr_preview(torch.rand(1, 3, 4, 4) * 100)
        >>> tuple(preview.shape), bool(preview.min() >= 0), bool(preview.max() <= 1)
        ((1, 3, 4, 4), True, True)
    """
    return gamma_encode(reinhard_global(radiance))


class MuLaw(nn.Module):
    """Module form of :func:`mu_law`."""

    def __init__(self, mu: float = 5000.0) -> None:
        super().__init__()
        self.mu = mu

    def forward(self, hdr: torch.Tensor) -> torch.Tensor:
        return mu_law(hdr, self.mu)


class ReinhardGlobal(nn.Module):
    """Module form of :func:`reinhard_global`."""

    def __init__(self, key: float = 0.18, white: float | None = None) -> None:
        super().__init__()
        self.key, self.white = key, white

    def forward(self, hdr: torch.Tensor) -> torch.Tensor:
        return reinhard_global(hdr, self.key, self.white)
