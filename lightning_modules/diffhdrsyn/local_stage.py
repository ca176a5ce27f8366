"""Stage 1b: the local networks (edge structure) of both directions, Eq. 5."""

from __future__ import annotations

from typing import Any

import torch

from hdrsyn.model_registry import refuse_checkpoints
from lightning_modules.diffhdrsyn.base import STAGE_REFUSAL, StackStage
from lightning_modules.diffhdrsyn.loss import local_objective, without_centre


class LocalStage(StackStage):
    """Trains the stop-up and stop-down local U-Nets alone with the Canny edge L1 (paper Eq. 5).

    The local net of step ``k`` sees the grey image and Canny edges of the ground-truth exposure at
    EV ``+-k`` (teacher forcing) and predicts the edge map of EV ``+-(k+1)``; the global nets are present
    only so that the checkpoint has the generator's layout, and are frozen.

    Args:
        lambda_edge: weight of Eq. 5 (paper 1).
        lr: learning rate of gradient-centralised Adam (paper 1e-4).
        **kwargs: the generator's and the optimiser's arguments of
            :class:`~lightning_modules.diffhdrsyn.base.StackStage`.
    """

    stage_name = "local"
    fixed_switches = {"use_refine": False, "use_local": True}

    def __init__(self, lambda_edge: float = 1.0, lr: float = 1e-4, **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def learning_rates(self) -> dict[str, float]:
        return {"local_net": self.hparams.lr}

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
