"""Training guards, the denormal flush and the checkpoint callback shared by every stage."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any, Literal

import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.plugins.io import TorchCheckpointIO
from pytorch_lightning.utilities import rank_zero_warn

from hdrsyn.io import atomic_write


class NonFiniteGuard(pl.Callback):
    """Stop NaN / Inf gradients from reaching the weights.

    Checked after backward (and, under DDP, after the gradient all-reduce, so every rank decides the
    same). A NaN or Inf loss shows up here too, as non-finite gradients.

    Policies:
        ``"skip"``: drop the optimiser step (all gradients cleared), count it in ``train/skipped_steps``,
        warn with the batch's scene names; stop anyway after ``max_skips`` skipped steps.
        ``"stop"``: raise at once, naming the batch.
    """

    def __init__(self, policy: Literal["skip", "stop"] = "skip", max_skips: int = 100) -> None:
        if policy not in ("skip", "stop"):
            raise ValueError(f"policy must be 'skip' or 'stop', got {policy!r}")
        self.policy = policy
        self.max_skips = max_skips
        self.skipped = 0
        self._names: list[str] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:  # noqa: ANN001
        self._names = list(batch.get("name", [f"batch {batch_idx}"])) if isinstance(batch, dict) else [str(batch_idx)]

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:  # noqa: ANN001
        grads = [p.grad for group in optimizer.param_groups for p in group["params"] if p.grad is not None]
        if all(torch.isfinite(g).all() for g in grads):
            return
        where = f"step {trainer.global_step}, scenes {self._names}"
        if self.policy == "stop":
            raise FloatingPointError(f"non-finite loss or gradient at {where} (NonFiniteGuard policy='stop')")
        self.skipped += 1
        for group in optimizer.param_groups:
            for param in group["params"]:
                param.grad = None
        rank_zero_warn(f"NonFiniteGuard: skipped the update at {where} ({self.skipped} so far)")
        pl_module.log("train/skipped_steps", float(self.skipped))
        if self.skipped > self.max_skips:
            raise FloatingPointError(f"more than {self.max_skips} non-finite steps (last at {where})")

    def state_dict(self) -> dict:
        return {"skipped": self.skipped}

    def load_state_dict(self, state_dict: dict) -> None:
        self.skipped = state_dict["skipped"]


class FlushDenormals(pl.Callback):
    """Treat subnormal floats (``|x| < 1.2e-38``) as zero on the CPU while a stage runs.

    A few steps into training some intermediate values underflow to subnormal floats, and every CPU
    instruction touching one takes ~100x longer: a 128-px joint step took 1.15 s instead of 0.94 s (median
    of 14 steps) with identical losses. This sets the CPU's
    flush-to-zero / denormals-are-zero modes (:func:`torch.set_flush_denormal`) in ``setup`` and clears them
    in ``teardown``; it changes results only below float32's normal range. No effect on GPUs or on
    CPUs without the modes (then it does nothing).
    """

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        torch.set_flush_denormal(True)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        torch.set_flush_denormal(False)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Writes each checkpoint to a hidden temporary file in its own folder, then renames it into place.

    Lightning's own writer stages the file in the system's temporary folder and *copies* it over when that
    is another file system: a full disk then leaves a truncated checkpoint, and a small ``/tmp`` fails
    saves the run folder has room for. Here a failed write leaves the previous file as it was, no
    temporary behind, and a full disk is one :class:`~hdrsyn.io.NoSpaceError` naming the folder.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options, got {storage_options!r}")
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        atomic_write(Path(path), lambda tmp: tmp.write_bytes(buffer.getbuffer()))


class StageCheckpoint(ModelCheckpoint):
    """``ModelCheckpoint`` whose ``last.ckpt`` is always the newest model of the run that wrote it.

    Plain ``ModelCheckpoint`` keeps an existing ``last.ckpt`` and writes ``last-v1.ckpt`` beside it when a
    stage is fitted again, while configs and the next stage still read ``last.ckpt``; and with
    ``fast_dev_run`` (which Lightning says suppresses checkpointing) it still writes ``last-v1.ckpt``
    at the end of training, which ``--ckpt_path last`` then picks as the newest. Here a new fit
    replaces its files (no version counter), ``fast_dev_run`` writes nothing, and ``--ckpt_path last``
    resolves to ``<dirpath>/last.ckpt`` alone. Checkpoints in a local folder are written atomically
    (:class:`AtomicCheckpointIO`, installed in place of Lightning's default writer).
    """

    def __init__(self, *args: Any, enable_version_counter: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, enable_version_counter=enable_version_counter, **kwargs)

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        super().setup(trainer, pl_module, stage)
        local = self.dirpath is None or "://" not in str(self.dirpath)
        if local and type(trainer.strategy.checkpoint_io) is TorchCheckpointIO:
            trainer.strategy.checkpoint_io = AtomicCheckpointIO()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.fast_dev_run:
            super().on_train_end(trainer, pl_module)

    def _find_last_checkpoints(self, trainer: pl.Trainer) -> set[str]:
        name = self.CHECKPOINT_NAME_LAST + self.FILE_EXTENSION
        return {path for path in super()._find_last_checkpoints(trainer) if Path(path).name == name}
