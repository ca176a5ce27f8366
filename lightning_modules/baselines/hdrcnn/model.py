"""HDRCNN (Eilertsen et al., SIGGRAPH Asia 2017): saturated-region prediction in the log domain."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import torch
from torch import nn
from torchvision.models.vgg import make_layers

from losses.vgg import IMAGENET_MEAN, IMAGENET_STD, load_vgg_features, tapped_features
from ops.checks import check_shape

#: VGG16 convolution widths per level (torchvision's configuration "D" at width 64).
VGG16_LEVELS = ((1, 1), (2, 2), (4, 4, 4), (8, 8, 8), (8, 8, 8))


class HDRCNNOutput(NamedTuple):
    """``hdr`` blended linear HDR, ``log_hdr`` the decoder's ``y_hat = log(H + eps)``, ``alpha`` the blend mask."""

    hdr: torch.Tensor
    log_hdr: torch.Tensor
    alpha: torch.Tensor


def saturation_mask(ldr: torch.Tensor, threshold: float = 0.95) -> torch.Tensor:
    """Blend weight ``alpha = max(0, max_c D_c - tau) / (1 - tau)`` ``(B, 1, H, W)`` (Eilertsen et al. Eq. 2)."""
    if not 0 <= threshold < 1:
        raise ValueError(f"threshold must be in [0, 1), got {threshold}")
    return ((ldr.amax(dim=1, keepdim=True) - threshold) / (1 - threshold)).clamp(0, 1)


class _UpBlock(nn.Module):
    """4x4 transposed convolution (stride 2), batch norm, leaky ReLU, then a 1x1 fusion with the skip.

    The fusion starts as the sum of the decoder and skip features (Eilertsen et al. Sec. 3.2).
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.up = nn.Sequential(nn.ConvTranspose2d(in_channels, out_channels, 4, 2, 1), nn.BatchNorm2d(out_channels),
                                nn.LeakyReLU(0.2))
        self.fuse = _sum_initialised_fusion(out_channels)

    def forward(self, x: torch.Tensor, skip: torch.Tensor) -> torch.Tensor:
        return self.fuse(torch.cat([self.up(x), skip], dim=1))


def _sum_initialised_fusion(channels: int) -> nn.Conv2d:
    """1x1 convolution of ``[a, b]`` (``2C`` channels) to ``C`` channels, initialised to ``a + b``."""
    fuse = nn.Conv2d(2 * channels, channels, 1)
    with torch.no_grad():
        eye = torch.eye(channels)[..., None, None]
        fuse.weight.copy_(torch.cat([eye, eye], dim=1))
        fuse.bias.zero_()
    return fuse


class HDRCNN(nn.Module):
    """VGG16 encoder, log-domain decoder with skip connections, blend with the linearised input.

    The encoder (VGG16's 13 convolutions and 5 max pools, widths ``w, 2w, 4w, 8w, 8w``) sees the
    display-referred LDR ``D``; a latent 3x3 convolution (batch norm, ReLU) at ``H / 32``; five decoder
    levels (:class:`_UpBlock`) each fusing the encoder features of that resolution before pooling; a
    3x3 convolution to RGB; last, a fusion with the input in the log domain ``log(D^gamma + eps)``
    (the domain-transforming skip connection). The decoder predicts ``y_hat = log(H + eps)``; the output
    is ``H_hat = (1 - alpha) D^gamma + alpha exp(y_hat)`` with ``alpha`` from :func:`saturation_mask`
    (Eilertsen et al. Eq. 1): the network only fills in the (near-)saturated pixels.

    Args:
        base_channels: ``w`` (VGG16: 64). The paper's encoder starts from ImageNet weights, which cannot be
            downloaded here: ``encoder_weights`` may name a local torchvision ``vgg16`` state dict
            (e.g. ``vgg16-397923af.pth``; only its ``features.*`` entries are used, ``w`` must be 64);
            otherwise the encoder is randomly initialised.
        gamma: inverse camera curve ``f^-1(D) = D^gamma`` (paper 2).
        threshold: ``tau`` of the blend mask (paper 0.95).
        eps: offset of the log domain (the authors' code: 1/255).
        encoder_weights: optional local VGG16 state dict.
    """

    def __init__(
        self,
        base_channels: int = 64,
        gamma: float = 2.0,
        threshold: float = 0.95,
        eps: float = 1 / 255,
        encoder_weights: str | Path | None = None,
    ) -> None:
        super().__init__()
        if not base_channels >= 1:
            raise ValueError(f"base_channels must be >= 1, got {base_channels}")
        if not (gamma > 0 and eps > 0):
            raise ValueError(f"gamma and eps must be > 0, got {gamma}, {eps}")
        if not 0 <= threshold < 1:
            raise ValueError(f"threshold must be in [0, 1), got {threshold}")
        self.gamma, self.threshold, self.eps = gamma, threshold, eps
        widths = [base_channels * level[0] for level in VGG16_LEVELS]
        config: list[int | str] = [m for level in VGG16_LEVELS for m in [*(base_channels * f for f in level), "M"]]
        self.encoder = make_layers(config)
        self.taps = {i - 1 for i, m in enumerate(self.encoder) if isinstance(m, nn.MaxPool2d)}
        if encoder_weights is not None:
            self._load_encoder(encoder_weights, base_channels)
        self.latent = nn.Sequential(nn.Conv2d(widths[-1], widths[-1], 3, padding=1), nn.BatchNorm2d(widths[-1]),
                                    nn.ReLU())
        outs = widths[::-1]
        self.decoder = nn.ModuleList(_UpBlock(c_in, c_out) for c_in, c_out in zip([widths[-1], *outs], outs))
        self.head = nn.Conv2d(widths[0], 3, 3, padding=1)
        self.input_fusion = _sum_initialised_fusion(3)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def _load_encoder(self, path: str | Path, base_channels: int) -> None:
        if base_channels != 64 and Path(path).is_file():
            raise ValueError(f"VGG16 weights need base_channels=64, got {base_channels}")
        load_vgg_features(self.encoder, path, "vgg16", "vgg16-397923af.pth",
                          "or set encoder_weights: null to train the encoder from scratch.")

    @property
    def multiple(self) -> int:
        """H and W must be multiples of this (five poolings)."""
        return 2 ** len(VGG16_LEVELS)

    def forward(self, ldr: torch.Tensor) -> HDRCNNOutput:
        """Reconstruct HDR from ``ldr`` ``(B, 3, H, W)`` in [0, 1] (H, W multiples of 32)."""
        check_shape(ldr, ["B", "3", "H", "W"])
        h, w = ldr.shape[-2:]
        if h % self.multiple != 0 or w % self.multiple != 0:
            raise ValueError(f"H and W must be multiples of {self.multiple}, got {h}x{w}")
        x, skips = tapped_features(self.encoder, (ldr - self.mean) / self.std, self.taps)
        x = self.latent(x)
        for block in self.decoder:
            x = block(x, skips.pop())
        linear_input = ldr.clamp(0, 1) ** self.gamma
        log_hdr = self.input_fusion(torch.cat([self.head(x), torch.log(linear_input + self.eps)], dim=1))
        alpha = saturation_mask(ldr, self.threshold)
        return HDRCNNOutput((1 - alpha) * linear_input + alpha * log_hdr.exp(), log_hdr, alpha)


class HDRCNNRadiance(nn.Module):
    """The blended HDR output of an :class:`HDRCNN` alone (what reconstruction needs)."""

    def __init__(self, net: HDRCNN) -> None:
        super().__init__()
        self.net = net

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        return self.net(ldr).hdr
