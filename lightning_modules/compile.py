"""Opt-in ``torch.compile`` of a stage's generator, as a callback (checkpoints and hyperparameters unchanged)."""

from __future__ import annotations

import pytorch_lightning as pl

from lightning_modules.diffhdrsyn.model import StackGenerator
from lightning_modules.diffhdrsyn.model.compile import compile_subnets


class CompileGenerator(pl.Callback):
    """Compile the U-Nets of ``pl_module.generator``
    (:func:`lightning_modules.diffhdrsyn.model.compile.compile_subnets`).

    Add it to any stage: ``--trainer.callbacks+=lightning_modules.compile.CompileGenerator``. The first
    steps then include compilation (about a dozen graphs per stage: one per recursion step, input that
    needs or does not need a gradient, and teacher-forced input).

    Args:
        backend: ``torch.compile`` backend (``inductor``).
        mode: ``torch.compile`` mode (None, ``reduce-overhead``, ``max-autotune``).
    """

    def __init__(self, backend: str = "inductor", mode: str | None = None) -> None:
        self.backend, self.mode = backend, mode

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        generator = getattr(pl_module, "generator", None)
        if not isinstance(generator, StackGenerator):
            raise TypeError(
                f"CompileGenerator needs a module with a StackGenerator `generator` (GlobalStage, LocalStage, "
                f"JointStage), got {type(pl_module).__name__}"
            )
        compile_subnets(generator, self.backend, self.mode)
