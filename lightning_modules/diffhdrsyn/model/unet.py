"""Shared encoder-decoder trunk of the global, local and refinement U-Nets (paper Fig. 3).

Encoder: a 3x3 stem, then per level two 3x3 Swish convs and a 2x2 average pool, channels doubling up to a
cap. Bottleneck (at ``H / 2**levels``): an optional ConvGRU, then two 3x3 Swish convs. Decoder per level:
bilinear x2 upsampling, concatenation with the encoder features of that resolution, a 1x1 Swish conv,
a 3x3 conv, (conditional) instance norm and Swish. The trunk returns full-resolution features; each
network adds its own head.

For CPU speed the trunk computes in channels-last memory format (its features come out channels-last; the
networks make their head outputs NCHW-contiguous again) and runs each decoder level's 1x1 conv before the
upsampling (:class:`UpBlock`); without autograd (inference, validation) it also fuses each conv with its Swish
and normalises channels-last (:class:`~lightning_modules.diffhdrsyn.model.blocks.SwishConv`,
:func:`~lightning_modules.diffhdrsyn.model.blocks.instance_norm_silu`). Values are those of the plain form up
to float rounding.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from lightning_modules.diffhdrsyn.model.blocks import (
    ConditionalInstanceNorm2d,
    ConvGRUCell,
    DoubleSwishConv,
    GlobalContext,
    SwishConv,
    instance_norm_silu,
)
from ops.checks import check_shape


def level_channels(base_channels: int, max_channels: int, levels: int) -> list[int]:
    """Channel widths ``[C_0, ..., C_levels]`` with ``C_k = min(base * 2**k, max)``."""
    if not 0 < base_channels <= max_channels:
        raise ValueError(f"need 0 < base <= max, got {base_channels}, {max_channels}")
    return [min(base_channels * 2**k, max_channels) for k in range(levels + 1)]


class UpBlock(nn.Module):
    """Decoder level: upsample x2, concat skip, 1x1 Swish conv, 3x3 conv, (C)IN, Swish.

    ``num_styles=None`` uses a plain affine :class:`~torch.nn.InstanceNorm2d` (no conditioning).
    """

    def __init__(self, in_channels: int, skip_channels: int, out_channels: int, num_styles: int | None) -> None:
        super().__init__()
        self.fuse = SwishConv(in_channels + skip_channels, out_channels, kernel_size=1)
        self.conv = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.norm: nn.Module = (
            nn.InstanceNorm2d(out_channels, affine=True)
            if num_styles is None
            else ConditionalInstanceNorm2d(out_channels, num_styles)
        )

    def forward(self, x: torch.Tensor, skip: torch.Tensor, style: int | torch.Tensor) -> torch.Tensor:
        """``x`` ``(B, C_in, h, w)``, ``skip`` ``(B, C_skip, 2h, 2w)`` -> ``(B, C_out, 2h, 2w)``, channels-last.

        The 1x1 fuse conv of ``[upsample(x), skip]`` is computed as ``upsample(W_x x) + W_skip skip + b``:
        a 1x1 conv and bilinear upsampling are both linear per pixel / per channel (and bilinear weights
        sum to 1), so they commute. Same result up to float rounding, with the ``x`` half of the conv at a
        quarter of the pixels and no concatenated tensor.
        """
        conv, in_channels = self.fuse[0], x.shape[1]
        x = F.interpolate(F.conv2d(x, conv.weight[:, :in_channels]), scale_factor=2.0, mode="bilinear",
                          align_corners=False)
        x = self.conv(self.fuse[1](x + F.conv2d(skip, conv.weight[:, in_channels:], conv.bias)))
        if isinstance(self.norm, ConditionalInstanceNorm2d):
            weight, bias = self.norm.affine(style, x.shape[0])
        else:
            weight, bias = self.norm.weight, self.norm.bias
        return instance_norm_silu(x, weight, bias, self.norm.eps)


class UNetTrunk(nn.Module):
    """U-Net trunk returning ``(features (B, C_0, H, W), hidden)``.

    Args:
        in_channels: input channels.
        base_channels: stem width ``C_0``; level ``k`` has ``min(base * 2**k, max_channels)`` channels.
        max_channels: channel cap.
        levels: number of down/up levels; H and W must be multiples of ``2**levels``.
        num_styles: conditional-instance-norm styles of the decoder; None = plain instance norm.
        use_gru: put a :class:`ConvGRUCell` in front of the bottleneck convs.
        name: network name used in error messages.
        global_context: a :class:`GlobalContext` block after the bottleneck convs (image-wide receptive field).
    """

    def __init__(
        self,
        in_channels: int,
        base_channels: int,
        max_channels: int,
        levels: int,
        num_styles: int | None,
        use_gru: bool,
        name: str,
        global_context: bool = False,
    ) -> None:
        super().__init__()
        if not levels >= 1:
            raise ValueError(f"levels must be >= 1, got {levels}")
        self.in_channels, self.levels, self.name = in_channels, levels, name
        ch = level_channels(base_channels, max_channels, levels)
        self.out_channels = ch[0]
        self.stem = SwishConv(in_channels, ch[0])
        self.down = nn.ModuleList(DoubleSwishConv(ch[k], ch[k + 1]) for k in range(levels))
        self.gru = ConvGRUCell(ch[-1], ch[-1]) if use_gru else None
        self.bottleneck = DoubleSwishConv(ch[-1], ch[-1])
        self.context = GlobalContext(ch[-1]) if global_context else None
        self.up = nn.ModuleList(UpBlock(ch[k + 1], ch[k + 1], ch[k], num_styles) for k in reversed(range(levels)))

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this."""
        return 2**self.levels

    def check_input(self, x: torch.Tensor) -> None:
        """Check ``x`` is ``(B, in_channels, H, W)`` with H, W multiples of ``2**levels``."""
        check_shape(x, ["B", str(self.in_channels), "H", "W"])
        h, w = x.shape[-2:]
        if h % self.multiple != 0 or w % self.multiple != 0:
            raise ValueError(f"H and W must be multiples of {self.multiple} for the {self.name}, got {h}x{w}")

    def forward(
        self, x: torch.Tensor, style: int | torch.Tensor = 0, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        self.check_input(x)
        if self.gru is None and hidden is not None:
            raise ValueError(f"the {self.name} has no GRU, hidden must be None")
        x = self.stem(x.contiguous(memory_format=torch.channels_last))
        skips = []
        for level in self.down:
            x = level(x)
            skips.append(x)
            x = F.avg_pool2d(x, 2)
        if self.gru is not None:
            hidden = self.gru(x, hidden)
            x = hidden
        x = self.bottleneck(x.contiguous(memory_format=torch.channels_last))  # the GRU's zero state is NCHW
        if self.context is not None:
            x = self.context(x)
        for block, skip in zip(self.up, reversed(skips)):
            x = block(x, skip, style)
        return x, hidden
