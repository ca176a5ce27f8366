"""Deep recursive HDRI (Lee, An, Kang, ECCV 2018): the stop-up / stop-down generators and their discriminator.

Each direction is a pix2pix-style U-Net generator ``G`` mapping an exposure to the one a stop brighter
(stop-up) or darker (stop-down), trained against a PatchGAN discriminator ``D`` (the least-squares GAN
loss is in :mod:`.loss`). At inference each generator is applied recursively, ``x_{k+1} = G(x_k)``, and
the stack is merged outside the network (Debevec & Malik).
"""

from __future__ import annotations

import torch
from torch import nn

from ops.checks import check_shape


def _encoder_channels(base_channels: int, levels: int) -> list[int]:
    """``[C_1, ..., C_levels]`` with ``C_k = base * 2**(k-1)`` capped at ``8 * base`` (pix2pix)."""
    return [base_channels * min(2**k, 8) for k in range(levels)]


class ExposureUNet(nn.Module):
    """pix2pix-style U-Net generator for one exposure step (Lee et al. 2018, Sec. 3).

    Encoder level ``k``: 4x4 convolution of stride 2, batch norm (not on the first and innermost
    levels), PReLU; ``H / 2**k`` resolution. Decoder level ``k``: 4x4 transposed convolution of stride
    2 on the previous decoder output concatenated with the encoder features of the same resolution,
    batch norm and PReLU; the last level outputs 3 channels through ``tanh``.

    Args:
        base_channels: width of the first encoder level (paper 64); channels double per level up to 8x.
        levels: encoder / decoder levels; H and W must be multiples of ``2**levels`` (pix2pix: 8 at 256 px).
    """

    def __init__(self, base_channels: int = 64, levels: int = 6) -> None:
        super().__init__()
        if not base_channels >= 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        if not levels >= 2:
            raise ValueError(f"levels must be >= 2, got {levels}")
        ch = _encoder_channels(base_channels, levels)
        self.levels = levels
        self.encoder = nn.ModuleList(
            self._block(nn.Conv2d(3 if k == 0 else ch[k - 1], ch[k], 4, 2, 1), ch[k], 0 < k < levels - 1)
            for k in range(levels)
        )
        self.decoder = nn.ModuleList(
            self._block(nn.ConvTranspose2d(ch[k] * (1 if k == levels - 1 else 2), ch[k - 1], 4, 2, 1), ch[k - 1], True)
            for k in range(levels - 1, 0, -1)
        )
        self.head = nn.ConvTranspose2d(2 * ch[0], 3, 4, 2, 1)

    @staticmethod
    def _block(conv: nn.Module, channels: int, norm: bool) -> nn.Sequential:
        return nn.Sequential(conv, nn.BatchNorm2d(channels) if norm else nn.Identity(), nn.PReLU(channels))

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this."""
        return 2**self.levels

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Map ``image`` ``(B, 3, H, W)`` in [0, 1] to the next exposure in [0, 1]."""
        check_shape(image, ["B", "3", "H", "W"])
        h, w = image.shape[-2:]
        if h % self.multiple != 0 or w % self.multiple != 0:
            raise ValueError(f"H and W must be multiples of {self.multiple}, got {h}x{w}")
        x = image * 2 - 1
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
        x = skips.pop()
        for block in self.decoder:
            x = block(x)
            x = torch.cat([x, skips.pop()], dim=1)
        return (torch.tanh(self.head(x)) + 1) / 2


class PatchDiscriminator(nn.Module):
    """Conditional PatchGAN (pix2pix, 70x70 receptive field with ``layers=3``).

    Input: the condition and a real or generated image (6 channels, [0, 1]). 4x4 convolutions: ``layers``
    of stride 2 (channels ``base * 2**k`` up to 8x, batch norm except on the first), one of stride 1,
    then a 1-channel stride-1 output of per-patch realness scores (no sigmoid: least-squares GAN).

    Args:
        base_channels: width of the first layer (pix2pix 64).
        layers: number of stride-2 layers.
    """

    def __init__(self, base_channels: int = 64, layers: int = 3) -> None:
        super().__init__()
        if not layers >= 1:
            raise ValueError(f"layers must be >= 1, got {layers}")
        ch = [base_channels * min(2**k, 8) for k in range(layers + 1)]
        modules: list[nn.Module] = []
        in_channels = 6
        for k, out_channels in enumerate(ch):
            stride = 2 if k < layers else 1
            modules += [nn.Conv2d(in_channels, out_channels, 4, stride, 1)]
            modules += [nn.BatchNorm2d(out_channels)] if k > 0 else []
            modules += [nn.LeakyReLU(0.2)]
            in_channels = out_channels
        modules.append(nn.Conv2d(in_channels, 1, 4, 1, 1))
        self.body = nn.Sequential(*modules)

    def forward(self, condition: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
        """Patch scores ``(B, 1, h, w)`` of ``image`` given ``condition``, both ``(B, 3, H, W)`` in [0, 1]."""
        check_shape(condition, ["B", "3", "H", "W"])
        if condition.shape != image.shape:
            raise ValueError(f"condition and image shapes differ: {tuple(condition.shape)} vs {tuple(image.shape)}")
        return self.body(torch.cat([condition, image], dim=1) * 2 - 1)


class DeepRecursiveHDRI(nn.Module):
    """Stop-up and stop-down :class:`ExposureUNet` s applied recursively: LDR -> stack EV ``-n .. +n``.

    Args:
        base_channels: generator width (paper 64).
        levels: generator depth (see :class:`ExposureUNet`).
        num_steps: recursions per direction (paper 3: EV -3..+3).
    """

    def __init__(self, base_channels: int = 64, levels: int = 6, num_steps: int = 3) -> None:
        super().__init__()
        if not num_steps >= 1:
            raise ValueError(f"num_steps must be >= 1, got {num_steps}")
        self.num_steps = num_steps
        self.up = ExposureUNet(base_channels, levels)
        self.down = ExposureUNet(base_channels, levels)

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        """Stack ``(B, 2n+1, 3, H, W)`` in [0, 1], EV ``-n .. +n``, with ``ldr`` at index ``n``."""
        brighter, darker = [], []
        up = down = ldr
        for _ in range(self.num_steps):
            up, down = self.up(up), self.down(down)
            brighter.append(up)
            darker.append(down)
        return torch.stack([*darker[::-1], ldr, *brighter], dim=1)
