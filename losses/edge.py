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
    """Module form of :func:`edge_loss`."""

    def __init__(self, sigma: float = 2.0) -> None:
        super().__init__()
        self.sigma = sigma

    def forward(self, pred_edges: torch.Tensor, target_images: torch.Tensor) -> torch.Tensor:
        return edge_loss(pred_edges, target_images, self.sigma)
