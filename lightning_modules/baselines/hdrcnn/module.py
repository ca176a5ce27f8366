"""HDRCNN (Eilertsen et al. 2017) trained and evaluated on our data: a direct method filling saturated pixels."""

from __future__ import annotations

from typing import Any

import torch

from hdrsyn.model_registry import Reconstructor, register_reconstructor, restore_module
from lightning_modules.baselines.base import HDRBaseline
from lightning_modules.baselines.hdrcnn.loss import hdrcnn_loss
from lightning_modules.baselines.hdrcnn.model import HDRCNN, HDRCNNRadiance


class HDRCNNBaseline(HDRBaseline):
    """HDRCNN with the illuminance / reflectance log-domain loss on the pixels it blends in.

    The ground-truth HDR is on the scale of the linearised input (value 1 saturates at EV 0), as
    HDRCNN's training pairs are. The loss only sees pixels with ``alpha > 0`` (max channel above
    ``threshold``); a batch without any has zero loss, as in the paper.

    Args:
        base_channels: VGG16 width (paper 64 = 29.4 M parameters; default 16 = 1.8 M for CPU budgets).
        encoder_weights: local torchvision ``vgg16`` state dict for the encoder (needs ``base_channels=64``);
            None trains it from scratch (the paper starts from ImageNet weights, not downloadable here).
        gamma: inverse camera curve ``D^gamma`` (paper 2).
        threshold: ``tau`` of the blend mask (paper 0.95).
        lambda_ir: illuminance vs reflectance weight (paper 0.5).
        sigma: illuminance low-pass filter (paper 2 px).
        lr: Adam learning rate (paper 5e-5).
        **kwargs: the evaluation arguments (``cvvdp``, ``crf_correction``, ``output_dir``) of
            :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(
        self,
        base_channels: int = 16,
        encoder_weights: str | None = None,
        gamma: float = 2.0,
        threshold: float = 0.95,
        lambda_ir: float = 0.5,
        sigma: float = 2.0,
        lr: float = 5e-5,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.net = HDRCNN(base_channels, gamma, threshold, encoder_weights=encoder_weights)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.hparams.lr)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        out = self.net(batch["ldr"])
        loss = hdrcnn_loss(out.log_hdr, batch["hdr"], out.alpha, self.hparams.lambda_ir, self.hparams.sigma,
                           self.net.eps)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["ldr"]))
        self.log("train/saturated", (out.alpha > 0).float().mean(), batch_size=len(batch["ldr"]))
        return loss

    def evaluate(self, batch: dict) -> tuple[None, torch.Tensor]:
        return None, self.net(batch["ldr"]).hdr


@register_reconstructor(HDRCNNBaseline)
def hdrcnn_reconstructor(hparams: dict, state_dict: dict) -> Reconstructor:
    """HDRCNN maps LDR straight to radiance; H and W padded to its five poolings."""
    net = restore_module(HDRCNNBaseline, hparams, state_dict).net
    return Reconstructor(HDRCNNRadiance(net), "radiance", net.multiple)
