"""Stage 1b: the local networks (edge structure) of both directions, Eq. 5."""

from __future__ import annotations

import torch

from hdrsyn.model_registry import refuse_checkpoints
from hdrsyn.networks import DEFAULT_GENERATOR, GeneratorConfig, StackGenerator
from lightning_modules.base import STAGE_REFUSAL, StackStage
from losses.objectives import local_objective, without_centre


class LocalStage(StackStage):
    """Trains the stop-up and stop-down local U-Nets alone with the Canny edge L1 (paper Eq. 5).

    The local net of step ``k`` sees the grey image and Canny edges of the ground-truth exposure at
    EV ``+-k`` (teacher forcing) and predicts the edge map of EV ``+-(k+1)``; the global nets are present
    only so that the checkpoint has the generator's layout, and are frozen.

    Args:
        width, num_steps, use_gru, use_cin, shift_residual: as
            :class:`~lightning_modules.global_stage.GlobalStage`.
        lambda_edge: weight of Eq. 5 (paper 1).
        lr, betas, weight_decay: gradient-centralised Adam.
        lr_schedule: ``"constant"`` (paper) or ``"cosine"`` decay to 0 over ``trainer.max_steps``.
    """

    stage_name = "local"

    def __init__(
        self,
        width: str = DEFAULT_GENERATOR.width,
        num_steps: int = DEFAULT_GENERATOR.num_steps,
        use_gru: bool = DEFAULT_GENERATOR.use_gru,
        use_cin: bool = DEFAULT_GENERATOR.use_cin,
        shift_residual: bool = DEFAULT_GENERATOR.shift_residual,
        lambda_edge: float = 1.0,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 5e-5,
        lr_schedule: str = "constant",
    ) -> None:
        generator = StackGenerator(GeneratorConfig(width, num_steps, use_refine=False, use_local=True,
                                                   use_gru=use_gru, use_cin=use_cin, shift_residual=shift_residual))
        super().__init__(generator, ["local_net"], {"local_net": lr}, betas, weight_decay, lr_schedule)
        self.save_hyperparameters()

    def objective(self, batch: dict) -> dict[str, torch.Tensor]:
        out = self.generator(batch["ldr"], targets=batch["stack"], refine=False)
        return local_objective(out["edges"], without_centre(batch["edges"]), self.hparams.lambda_edge)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        parts = self.objective(batch)
        self.log("train/loss", parts["local"], prog_bar=True, batch_size=len(batch["ldr"]))
        return parts["local"]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        parts = self.objective(batch)
        self.log("val/loss", parts["local"], sync_dist=True, prog_bar=True, batch_size=len(batch["ldr"]))
        if batch_idx == 0:
            out = self.generator(batch["ldr"], targets=batch["stack"], refine=False)
            edges = out["edges"][0].expand(-1, 3, -1, -1)
            target = without_centre(batch["edges"])[0].expand(-1, 3, -1, -1)
            self.log_stack_image("val/edges", edges, target)


refuse_checkpoints(LocalStage, STAGE_REFUSAL.format(part="local (edge) networks"))
