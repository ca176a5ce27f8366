"""Stage 1a: the global networks (tone transfer) of both directions, Eq. 4."""

from __future__ import annotations

import torch

from hdrsyn.model_registry import refuse_checkpoints
from hdrsyn.networks import DEFAULT_GENERATOR, GeneratorConfig, StackGenerator
from lightning_modules.base import STAGE_REFUSAL, StackStage
from losses.objectives import global_objective, without_centre


class GlobalStage(StackStage):
    """Trains the stop-up and stop-down global U-Nets alone with ``L1 + 0.1 L_hist`` (paper Eq. 4).

    Each step runs an autoregressive pass (each recursion fed its own previous output) and, with
    ``teacher_forcing``, a pass fed the ground-truth previous exposure (as the authors' code does).

    Args:
        width: width preset of the generator (``cpu``, ``paper``, ``tiny``).
        num_steps: recursions per direction (3: EV -3..+3).
        use_gru, use_cin: ablation switches of the global U-Net.
        shift_residual: each step is a residual on the analytic exposure shift of its input, from a
            zero-initialised head (ours, default); False = the paper's output (see
            :class:`~hdrsyn.networks.StackGenerator`).
        lambda_l1, lambda_hist: weights of Eq. 4 (paper 1 and 0.1; the authors' code uses 0.01 for hist).
        teacher_forcing: add the teacher-forced pass.
        lr, betas, weight_decay: gradient-centralised Adam (paper lr 1e-4, betas 0.5/0.999; the
            authors' weight decay 5e-5).
        lr_schedule: ``"constant"`` (paper) or ``"cosine"`` decay to 0 over ``trainer.max_steps``.
    """

    stage_name = "global"

    def __init__(
        self,
        width: str = DEFAULT_GENERATOR.width,
        num_steps: int = DEFAULT_GENERATOR.num_steps,
        use_gru: bool = DEFAULT_GENERATOR.use_gru,
        use_cin: bool = DEFAULT_GENERATOR.use_cin,
        shift_residual: bool = DEFAULT_GENERATOR.shift_residual,
        lambda_l1: float = 1.0,
        lambda_hist: float = 0.1,
        teacher_forcing: bool = True,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 5e-5,
        lr_schedule: str = "constant",
    ) -> None:
        generator = StackGenerator(GeneratorConfig(width, num_steps, use_refine=False, use_local=False,
                                                   use_gru=use_gru, use_cin=use_cin, shift_residual=shift_residual))
        super().__init__(generator, ["global_net"], {"global_net": lr}, betas, weight_decay, lr_schedule)
        self.save_hyperparameters()

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
