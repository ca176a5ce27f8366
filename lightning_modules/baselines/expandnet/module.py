"""ExpandNet (Marnerides et al. 2018) trained and evaluated on our data: a direct LDR -> HDR method."""

from __future__ import annotations

from typing import Any

import torch

from hdrsyn.model_registry import Reconstructor, register_reconstructor, restore_module
from lightning_modules.baselines.base import HDRBaseline
from lightning_modules.baselines.expandnet.loss import expandnet_loss, max_normalize
from lightning_modules.baselines.expandnet.model import ExpandNet


class ExpandNetBaseline(HDRBaseline):
    """ExpandNet on the non-linear LDR input, ``L1 + 5 (1 - cos)`` against the max-normalised ground truth.

    Args:
        channels: ExpandNet width (paper 64: 0.46 M parameters, small enough for CPU).
        lambda_cosine: weight of the cosine term (paper 5).
        lr: Adam learning rate (paper 7e-5).
        **kwargs: the evaluation arguments (``cvvdp``, ``crf_correction``, ``output_dir``) of
            :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(self, channels: int = 64, lambda_cosine: float = 5.0, lr: float = 7e-5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.net = ExpandNet(channels)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.hparams.lr)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = expandnet_loss(self.net(batch["ldr"]), max_normalize(batch["hdr"]), self.hparams.lambda_cosine)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["ldr"]))
        return loss

    def evaluate(self, batch: dict) -> tuple[None, torch.Tensor]:
        return None, self.net(batch["ldr"])


@register_reconstructor(ExpandNetBaseline)
def expandnet_reconstructor(hparams: dict, state_dict: dict) -> Reconstructor:
    """ExpandNet maps LDR straight to radiance."""
    return Reconstructor(restore_module(ExpandNetBaseline, hparams, state_dict).net, "radiance")
