"""Opt-in ``torch.compile`` of a stage's generator, as a callback (checkpoints and hyperparameters unchanged).

Shared by every method: it imports none. A module that can be compiled says how with a
``compile_generator(backend, mode)`` method (ours: :meth:`lightning_modules.diffhdrsyn.base.StackStage.compile_generator`).
"""

from __future__ import annotations

import pytorch_lightning as pl


class CompileGenerator(pl.Callback):
    """Compile the generator of ``pl_module`` through its ``compile_generator(backend, mode)`` (our stages:
    their U-Nets, :func:`lightning_modules.diffhdrsyn.model.compiled_subnets.compile_subnets`).

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
        compile_generator = getattr(pl_module, "compile_generator", None)
        if not callable(compile_generator):
            raise TypeError(
                f"CompileGenerator needs a module with a StackGenerator `generator` (GlobalStage, LocalStage, "
                f"JointStage: a `compile_generator` method), got {type(pl_module).__name__}"
            )
        compile_generator(self.backend, self.mode)
