"""Global (tone) U-Net of one exposure direction (paper Sec. 3.2, Fig. 3, loss Eq. 4)."""

from __future__ import annotations

import torch
from torch import nn

from hdrsyn.networks.unet import UNetTrunk


class GlobalUNet(nn.Module):
    """5-level recurrent U-Net mapping an image to the next exposure's global tone.

    Images are in [-1, 1]. Output ``(tanh(head(features)) + input) / 2`` stays in [-1, 1] (the authors'
    residual average). The ConvGRU hidden state at ``H / 32`` is an explicit input and output so that it
    carries across recursion steps; the decoder's conditional instance norms are keyed by ``style``
    (the recursion step, i.e. the target EV).

    Args:
        base_channels: stem width (paper 32).
        max_channels: channel cap (paper 1024).
        num_styles: number of CIN styles (target-EV steps); None = plain instance norm (CIN ablation).
        use_gru: keep the ConvGRU bottleneck (False = GRU ablation; the hidden state is then always None).
    """

    levels = 5

    def __init__(
        self, base_channels: int = 32, max_channels: int = 1024, num_styles: int | None = 3, use_gru: bool = True
    ) -> None:
        super().__init__()
        self.trunk = UNetTrunk(3, base_channels, max_channels, self.levels, num_styles, use_gru, "global net")
        self.head = nn.Conv2d(self.trunk.out_channels, 3, 3, padding=1)

    def forward(
        self, image: torch.Tensor, style: int | torch.Tensor = 0, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Map ``image`` ``(B, 3, H, W)`` in [-1, 1] to ``(next_image, hidden)``."""
        features, hidden = self.trunk(image, style, hidden)
        return (torch.tanh(self.head(features)) + image) / 2, hidden
