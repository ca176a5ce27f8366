"""Synthetic HDR images and exposure stacks for the metric tests."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F


def smooth_hdr(batch: int, size: int, seed: int, decades: float = 4.0, dtype=torch.float64) -> torch.Tensor:
    """``(batch, 3, size, size)`` relative linear HDR: smooth log-luminance over ``decades`` plus texture."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.randn(batch, 1, max(size // 8, 2), max(size // 8, 2), generator=g, dtype=dtype)
    log_lum = F.interpolate(coarse, size=(size, size), mode="bicubic", align_corners=False)
    lo, hi = log_lum.amin(dim=(1, 2, 3), keepdim=True), log_lum.amax(dim=(1, 2, 3), keepdim=True)
    log_lum = (log_lum - lo) / (hi - lo) * decades * math.log(10)
    tint = 0.7 + 0.6 * torch.rand(batch, 3, 1, 1, generator=g, dtype=dtype)
    texture = 1 + 0.2 * torch.rand(batch, 3, size, size, generator=g, dtype=dtype)
    return 1e-3 * log_lum.exp() * tint * texture


def degrade(hdr: torch.Tensor, strength: float, seed: int) -> torch.Tensor:
    """Multiplicative noise of relative ``strength`` (a worse prediction), still non-negative."""
    g = torch.Generator().manual_seed(seed)
    return (hdr * (1 + strength * torch.randn(hdr.shape, generator=g, dtype=hdr.dtype))).clamp_min(0)


@pytest.fixture
def hdr_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """A relative prediction (different scale, noisy) and its reference, ``(3, 3, 64, 64)`` float64."""
    target = smooth_hdr(3, 64, seed=0)
    return 7.5 * degrade(target, 0.1, seed=1), target


@pytest.fixture
def stacks() -> tuple[torch.Tensor, torch.Tensor]:
    """Predicted and ground-truth 7-exposure stacks ``(2, 7, 3, 64, 64)`` in [0, 1], EV -3..+3."""
    hdr = smooth_hdr(2, 64, seed=2, decades=3.0)
    hdr = hdr / hdr.median()
    evs = torch.arange(-3, 4, dtype=hdr.dtype).view(1, 7, 1, 1, 1)
    target = (hdr.unsqueeze(1) * 0.25 * 2.0**evs).clamp(0, 1) ** (1 / 2.2)
    g = torch.Generator().manual_seed(3)
    preds = target + 0.03 * torch.randn(target.shape, generator=g, dtype=target.dtype)
    return preds.clamp(0, 1), target


@pytest.fixture
def odd_hdr_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Like ``hdr_pair`` at 63 x 63 px: an odd pixel count, where every median is a unique middle element."""
    target = smooth_hdr(3, 63, seed=4)
    return 0.2 * degrade(target, 0.1, seed=5), target
