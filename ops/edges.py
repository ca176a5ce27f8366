"""Canny edge maps (sigma 2, as in the paper) on kornia's Canny detector."""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import canny
from torch import nn

from ops.checks import capturing_graph, check_image
from ops.precision import full_precision


@full_precision
def canny_edges(
    image: torch.Tensor, sigma: float = 2.0, low_threshold: float = 0.1, high_threshold: float = 0.2
) -> torch.Tensor:
    """Binary Canny edge map ``(B, 1, H, W)`` in {0, 1} of a ``(B, 3|1, H, W)`` image in [0, 1].

    Colour input is converted to grey first; the Gaussian kernel covers +-3 sigma. No gradient flows
    (Canny's hysteresis is a non-differentiable selection): use it for targets and inputs only.
    Hysteresis keeps a weak edge pixel when its 8-connected component of edge pixels holds a strong
    one. On CPU that is computed with OpenCV's connected components (milliseconds); kornia's iterative
    hysteresis, used on other devices and when tracing / exporting / compiling, gives the same map but needs one convolution per pixel of the
    longest edge chain (about 1.5 s per 256x256 stack on two CPU cores).
    Inside autocast it computes in float32 (thresholds on bfloat16 gradients would move edges).
    """
    check_image(image)
    if image.dim() < 3 or image.shape[-3] not in (1, 3):
        raise ValueError(
            f"Not a color or gray tensor. Got shape {list(image.shape)}.\nimage must be (B, 3, H, W) or (B, 1, H, W)"
        )
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    if not 0 <= low_threshold < high_threshold:
        raise ValueError("need 0 <= low_threshold < high_threshold")
    grey = rgb_to_grayscale(image) if image.shape[-3] == 3 else image
    size = 2 * math.ceil(3 * sigma) + 1
    by_components = grey.device.type == "cpu" and not capturing_graph()
    with torch.no_grad():
        _, edges = canny(grey.detach(), low_threshold, high_threshold, (size, size), (sigma, sigma),
                         hysteresis=not by_components)
    return _hysteresis_by_components(edges) if by_components else edges


def _hysteresis_by_components(thresholded: torch.Tensor) -> torch.Tensor:
    """Keep the 8-connected components of a (0, 0.5, 1) weak/strong edge map that hold a strong pixel."""
    planes = thresholded[:, 0].float().numpy()
    out = np.zeros_like(planes)
    for i, plane in enumerate(planes):
        count, labels = cv2.connectedComponents((plane > 0).astype(np.uint8), connectivity=8)
        keep = np.zeros(count, dtype=bool)
        keep[labels[plane >= 1]] = True
        keep[0] = False
        out[i] = keep[labels]
    return torch.from_numpy(out)[:, None].to(thresholded.dtype)


class CannyEdges(nn.Module):
    """Module form of :func:`canny_edges`."""

    def __init__(self, sigma: float = 2.0, low_threshold: float = 0.1, high_threshold: float = 0.2) -> None:
        super().__init__()
        self.sigma, self.low, self.high = sigma, low_threshold, high_threshold

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return canny_edges(image, self.sigma, self.low, self.high)
