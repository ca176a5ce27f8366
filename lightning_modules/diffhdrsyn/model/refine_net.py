"""Refinement U-Net of one exposure direction (paper Sec. 3.2, Fig. 3, loss Eq. 6)."""

from __future__ import annotations

import torch
from torch import nn

from lightning_modules.diffhdrsyn.model.unet import UNetTrunk


class RefineUNet(nn.Module):
    """5-level U-Net fusing the input image, the global output and the predicted edge map.

    Same structure as :class:`~lightning_modules.diffhdrsyn.model.global_net.GlobalUNet` without the ConvGRU and
    with plain (affine) instance norm in the decoder. Input: image and global output in [-1, 1] plus the edge map
    (7 channels; 6 when ``use_edges=False``, the no-decomposition ablation). Output in [-1, 1]: the paper's
    ``(tanh(head(features)) + global_image) / 2``, or with ``residual=True``
    ``clip(global_image + head(features), -1, 1)`` with a zero-initialised head, so that the untrained
    net is the identity on the global output and training only adds corrections to it.

    Args:
        base_channels: stem width (paper 16).
        max_channels: channel cap (paper 512).
        use_edges: whether an edge map is part of the input.
        residual: the identity-start residual output instead of the paper's average.
        global_context: a :class:`~lightning_modules.diffhdrsyn.model.blocks.GlobalContext` block in the bottleneck.
    """

    levels = 5

    def __init__(
        self, base_channels: int = 16, max_channels: int = 512, use_edges: bool = True, residual: bool = False,
        global_context: bool = False,
    ) -> None:
        super().__init__()
        self.use_edges, self.residual = use_edges, residual
        in_channels = 7 if use_edges else 6
        self.trunk = UNetTrunk(in_channels, base_channels, max_channels, self.levels, None, False, "refinement net",
                               global_context)
        self.head = nn.Conv2d(self.trunk.out_channels, 3, 3, padding=1)
        if residual:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(
        self, image: torch.Tensor, global_image: torch.Tensor, edges: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Refine ``global_image`` ``(B, 3, H, W)`` given the step input ``image`` and ``edges`` ``(B, 1, H, W)``."""
        if (edges is not None) != self.use_edges:
            raise ValueError(f"edges must be {'given' if self.use_edges else 'None'} (use_edges={self.use_edges})")
        parts = [image, global_image] if edges is None else [image, global_image, edges]
        features, _ = self.trunk(torch.cat(parts, dim=1))
        if self.residual:
            return (global_image + self.head(features).contiguous()).clamp(-1, 1)
        return (torch.tanh(self.head(features).contiguous()) + global_image) / 2
