"""Canny edge maps (sigma 2, as in the paper) on kornia's Canny detector."""

from __future__ import annotations

import math

import torch
from kornia.color import rgb_to_grayscale
from kornia.core.check import KORNIA_CHECK, KORNIA_CHECK_IS_COLOR_OR_GRAY
from kornia.filters import canny
from torch import nn


def canny_edges(
    image: torch.Tensor, sigma: float = 2.0, low_threshold: float = 0.1, high_threshold: float = 0.2
) -> torch.Tensor:
    """Binary Canny edge map ``(B, 1, H, W)`` in {0, 1} of a ``(B, 3|1, H, W)`` image in [0, 1].

    Colour input is converted to grey first. The Gaussian kernel covers +-3 sigma. No gradient flows
    (Canny's hysteresis is a non-differentiable selection); use it for targets and inputs only.
    """
    KORNIA_CHECK_IS_COLOR_OR_GRAY(image, "image must be (B, 3, H, W) or (B, 1, H, W)")
    KORNIA_CHECK(sigma > 0, f"sigma must be > 0, got {sigma}")
    KORNIA_CHECK(0 <= low_threshold < high_threshold, "need 0 <= low_threshold < high_threshold")
    grey = rgb_to_grayscale(image) if image.shape[-3] == 3 else image
    size = 2 * math.ceil(3 * sigma) + 1
    with torch.no_grad():
        _, edges = canny(grey, low_threshold, high_threshold, (size, size), (sigma, sigma))
    return edges


class CannyEdges(nn.Module):
    """Module form of :func:`canny_edges`."""

    def __init__(self, sigma: float = 2.0, low_threshold: float = 0.1, high_threshold: float = 0.2) -> None:
        super().__init__()
        self.sigma, self.low, self.high = sigma, low_threshold, high_threshold

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return canny_edges(image, self.sigma, self.low, self.high)
