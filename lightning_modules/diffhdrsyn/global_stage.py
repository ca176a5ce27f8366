"""Stage 1a: the global networks (tone transfer) of both directions, Eq. 4."""

from __future__ import annotations

from typing import Any

import torch

from hdrsyn.model_registry import refuse_checkpoints
from lightning_modules.diffhdrsyn.base import STAGE_REFUSAL, StackStage
from lightning_modules.diffhdrsyn.loss import global_objective, without_centre


class GlobalStage(StackStage):
    """Trains the stop-up and stop-down global U-Nets alone with ``L1 + 0.1 L_hist`` (paper Eq. 4).

    Each step runs an autoregressive pass (each recursion fed its own previous output) and, with
    ``teacher_forcing``, a pass fed the ground-truth previous exposure (as the authors' code does).

    Args:
        lambda_l1, lambda_hist: weights of Eq. 4 (paper 1 and 0.1; the authors' code uses 0.01 for hist).
        teacher_forcing: add the teacher-forced pass.
        lr: learning rate of gradient-centralised Adam (paper 1e-4).
        **kwargs: the generator's and the optimiser's arguments (``width``, ``num_steps``, ``use_gru``,
            ``use_cin``, ``shift_residual``, ``betas``, ``weight_decay``, ``lr_schedule``) of
            :class:`~lightning_modules.diffhdrsyn.base.StackStage`.
    """

    stage_name = "global"
    fixed_switches = {"use_refine": False, "use_local": False}

    def __init__(
        self,
        lambda_l1: float = 1.0,
        lambda_hist: float = 0.1,
        teacher_forcing: bool = True,
        lr: float = 1e-4,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)

    def learning_rates(self) -> dict[str, float]:
        return {"global_net": self.hparams.lr}

    def objective(self, out: dict[str, torch.Tensor], batch: dict) -> dict[str, torch.Tensor]:
        """Eq. 4 on the generator's output ``out`` for ``batch``."""
        return global_objective(out["global"], without_centre(batch["stack"]), self.hparams.lambda_l1,
                                self.hparams.lambda_hist)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.hparams.teacher_forcing:  # step 0 is shared by both passes
            autoregressive, teacher = self.generator.forward_pair(batch["ldr"], batch["stack"])
            parts = self.objective(autoregressive, batch)
            loss = parts["global"] + self.objective(teacher, batch)["global"]
        else:
            parts = self.objective(self.generator(batch["ldr"]), batch)
            loss = parts["global"]
        self.log_dict({f"train/{k}": v for k, v in parts.items()}, batch_size=len(batch["ldr"]))
        self.log("train/loss", loss, prog_bar=True, batch_size=len(batch["ldr"]))
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        out = self.generator(batch["ldr"])
        parts = self.objective(out, batch)
        self.log("val/loss", parts["global"], sync_dist=True, prog_bar=True, batch_size=len(batch["ldr"]))
        self.log_stack_psnr("val", out["stack"], batch["stack"], batch["ev"])
        if batch_idx == 0:
            self.log_stack_image("val/stack", out["stack"][0], batch["stack"][0])


refuse_checkpoints(GlobalStage, STAGE_REFUSAL.format(part="global (tone) networks"))
