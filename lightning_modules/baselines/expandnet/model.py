"""ExpandNet (Marnerides et al., Eurographics 2018): multiscale LDR -> HDR expansion without upsampling."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ops.checks import check_shape

#: Side to which the global branch resizes its input; six stride-2 convolutions take it to 4x4.
GLOBAL_SIZE = 256


def _conv_selu(in_channels: int, out_channels: int, kernel_size: int = 3, stride: int = 1,
               dilation: int = 1, padding: int | None = None) -> list[nn.Module]:
    pad = dilation * (kernel_size // 2) if padding is None else padding
    return [nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad, dilation), nn.SELU()]


class ExpandNet(nn.Module):
    """Three branches on the same input, fused by 1x1 convolutions (Marnerides et al. 2018, Fig. 2).

    - local: two 3x3 convolutions, ``C`` then ``2C`` channels, at full resolution;
    - dilated: four 3x3 convolutions of dilation 2, ``C`` channels, at full resolution;
    - global: the input resized to 256x256, six 3x3 convolutions of stride 2 (``C`` channels, 4x4 left)
      and a 4x4 valid convolution giving one ``C``-vector per image, replicated over the image.

    The ``4C`` concatenated features go through a 1x1 convolution to ``C`` channels and a 1x1
    convolution to RGB with a sigmoid. SELU everywhere else, with LeCun-normal initialisation (the
    self-normalising setting). ``C = 64`` gives 456,899 parameters (paper: ≈ 0.46 M).

    Input: display-referred (non-linear) LDR in [0, 1]. Output: linear HDR in [0, 1], relative
    (trained against the ground truth divided by its maximum).

    Args:
        channels: ``C`` (paper 64).
    """

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        if not channels >= 1:
            raise ValueError(f"channels must be >= 1, got {channels}")
        c = channels
        self.local_branch = nn.Sequential(*_conv_selu(3, c), *_conv_selu(c, 2 * c))
        self.dilated_branch = nn.Sequential(
            *_conv_selu(3, c, dilation=2), *(m for _ in range(3) for m in _conv_selu(c, c, dilation=2))
        )
        self.global_branch = nn.Sequential(
            *_conv_selu(3, c, stride=2),
            *(m for _ in range(5) for m in _conv_selu(c, c, stride=2)),
            *_conv_selu(c, c, kernel_size=4, padding=0),
        )
        self.fusion = nn.Sequential(*_conv_selu(4 * c, c, kernel_size=1), nn.Conv2d(c, 3, 1), nn.Sigmoid())
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.kaiming_normal_(module.weight, nonlinearity="linear")  # LeCun normal
                nn.init.zeros_(module.bias)

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        """Expand ``ldr`` ``(B, 3, H, W)`` in [0, 1] to relative linear HDR ``(B, 3, H, W)`` in [0, 1]."""
        check_shape(ldr, ["B", "3", "H", "W"])
        small = F.interpolate(ldr, size=(GLOBAL_SIZE, GLOBAL_SIZE), mode="bilinear", align_corners=False,
                              antialias=True)
        global_features = self.global_branch(small).expand(-1, -1, *ldr.shape[-2:])
        features = torch.cat([self.local_branch(ldr), self.dilated_branch(ldr), global_features], dim=1)
        return self.fusion(features)
