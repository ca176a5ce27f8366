"""Edge-map loss of the local network (paper Eq. 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ops.edges import canny_edges


def edge_loss(pred_edges: torch.Tensor, target_images: torch.Tensor, sigma: float = 2.0) -> torch.Tensor:
    """L1 between predicted edge maps and Canny edges of the targets (Eq. 5).

    ``(1 / (N E)) sum_e sum_i |E_hat_i^e - edge(I_i^e)|`` with ``edge`` = binary Canny of sigma 2.

    Args:
        pred_edges: ``(*, 1, H, W)`` predicted edge maps in [0, 1], e.g. ``(B, E, 1, H, W)``.
        target_images: ``(*, 3|1, H, W)`` target images in [0, 1] with the same leading and spatial dims.
        sigma: Gaussian sigma of the Canny detector.

    Example:
        >>> import torch
        >>> from ops.edges import canny_edges
        >>> image = torch.zeros(1, 3, 32, 32)
        >>> image[..., 16:] = 1  # one vertical step edge
        >>> float(edge_loss(canny_edges(image), image))
        0.0
        >>> float(edge_loss(torch.zeros(1, 1, 32, 32), image))  # the share of edge pixels (32 of 1024) missed
        0.03125
    """
    if not (pred_edges.dim() >= 4 and pred_edges.shape[-3] == 1):
        raise ValueError(f"pred_edges must be (*, 1, H, W), got {tuple(pred_edges.shape)}")
    if not (
        target_images.shape[:-3] == pred_edges.shape[:-3] and target_images.shape[-2:] == pred_edges.shape[-2:]
    ):
        raise ValueError(
            f"target_images {tuple(target_images.shape)} do not match pred_edges {tuple(pred_edges.shape)}"
        )
    target_edges = canny_edges(target_images.flatten(0, -4), sigma).reshape(pred_edges.shape)
    return F.l1_loss(pred_edges, target_edges.to(pred_edges.dtype))


class EdgeLoss(nn.Module):
    """Module form of :func:`edge_loss`.

    Example:
        >>> import torch
        >>> targets = torch.zeros(2, 6, 3, 32, 32)  # (B, E, 3, H, W) flat images: no edges
        >>> float(EdgeLoss()(torch.full((2, 6, 1, 32, 32), 0.5), targets))
        0.5
    """

    def __init__(self, sigma: float = 2.0) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, pred_edges: torch.Tensor, target_images: torch.Tensor) -> torch.Tensor:
        return edge_loss(pred_edges, target_images, self.sigma)
