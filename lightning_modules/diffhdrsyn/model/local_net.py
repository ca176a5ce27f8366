"""Local (edge) U-Net of one exposure direction (paper Sec. 3.2, Fig. 3, loss Eq. 5)."""

from __future__ import annotations

import torch
from torch import nn

from lightning_modules.diffhdrsyn.model.unet import UNetTrunk


class LocalUNet(nn.Module):
    """4-level recurrent U-Net predicting the next exposure's edge map from a grey image and its edges.

    Input ``(B, 2, H, W)``: grey image in [-1, 1] and its binary Canny edge map. Output: a sigmoid edge
    probability map ``(B, 1, H, W)`` trained against Canny(sigma 2) of the target (Eq. 5).

    Args:
        base_channels: stem width (paper 16).
        max_channels: channel cap (paper 256).
        num_styles: number of CIN styles (target-EV steps); None = plain instance norm.
        use_gru: keep the ConvGRU bottleneck.
    """

    levels = 4

    def __init__(
        self, base_channels: int = 16, max_channels: int = 256, num_styles: int | None = 3, use_gru: bool = True
    ) -> None:
        super().__init__()
        self.trunk = UNetTrunk(2, base_channels, max_channels, self.levels, num_styles, use_gru, "local net")
        self.head = nn.Conv2d(self.trunk.out_channels, 1, 3, padding=1)

    def forward(
        self, grey_and_edges: torch.Tensor, style: int | torch.Tensor = 0, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Map ``(B, 2, H, W)`` grey + edges to ``(edge_map in [0, 1], hidden)``."""
        features, hidden = self.trunk(grey_and_edges, style, hidden)
        return torch.sigmoid(self.head(features).contiguous()), hidden
