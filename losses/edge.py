"""Edge-map loss of the local network (paper Eq. 5)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ops.checks import check_image


def edge_loss(pred_edges: torch.Tensor, target_edges: torch.Tensor) -> torch.Tensor:
    """L1 between predicted edge maps and the target images' Canny edge maps (Eq. 5).

    ``(1 / (N E)) sum_e sum_i |E_hat_i^e - edge(I_i^e)|`` with ``edge`` = binary Canny of sigma 2. The
    targets' edge maps are made once, by the data (``batch["edges"]``, :class:`datamodules.base.StackDataset`
    with its ``edge_sigma``), not at every loss evaluation.

    Args:
        pred_edges: ``(*, 1, H, W)`` predicted edge maps in [0, 1], e.g. ``(B, E, 1, H, W)``.
        target_edges: the same shape: Canny edge maps of the targets (:func:`ops.edges.canny_edges`), in {0, 1}.

    Example:
        >>> import torch
        >>> from ops.edges import canny_edges
        >>> image = torch.zeros(1, 3, 32, 32)
        >>> image[..., 16:] = 1  # one vertical step edge
        >>> float(edge_loss(canny_edges(image), canny_edges(image)))
        0.0
        >>> float(edge_loss(torch.zeros(1, 1, 32, 32), canny_edges(image)))  # the share of edge pixels missed
        0.03125
    """
    check_image(pred_edges, "pred_edges")
    check_image(target_edges, "target_edges")
    if not (pred_edges.dim() >= 4 and pred_edges.shape[-3] == 1):
        raise ValueError(f"pred_edges must be (*, 1, H, W), got {tuple(pred_edges.shape)}")
    if target_edges.shape != pred_edges.shape:
        raise ValueError(f"target_edges {tuple(target_edges.shape)} do not match pred_edges {tuple(pred_edges.shape)}")
    return F.l1_loss(pred_edges, target_edges.to(pred_edges.dtype))


class EdgeLoss(nn.Module):
    """Module form of :func:`edge_loss`.

    Example:
        >>> import torch
        >>> no_edges = torch.zeros(2, 6, 1, 32, 32)  # (B, E, 1, H, W) edge maps of flat images
        >>> float(EdgeLoss()(torch.full((2, 6, 1, 32, 32), 0.5), no_edges))
        0.5
    """

    def forward(self, pred_edges: torch.Tensor, target_edges: torch.Tensor) -> torch.Tensor:
        return edge_loss(pred_edges, target_edges)
