"""Our LightningCLI (``lightning fit|validate|test|predict``), kept apart so the tools start without Lightning."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import yaml
from pytorch_lightning import LightningDataModule, LightningModule, Trainer
from pytorch_lightning.cli import LightningCLI, SaveConfigCallback

from hdrsyn.provenance import data_fingerprint, git_state


class HDRSynCLI(LightningCLI):
    """LightningCLI in which ``--config`` and the command line alone define the model.

    Since Lightning 2.5.5, ``--ckpt_path`` re-parses the checkpoint's saved hyperparameters over the
    configuration, which silently overrides what the user asked for (e.g. ``output_dir`` of a test run,
    a moved ``global_ckpt`` on resume) and can even swap the model class between stages. Weights and
    trainer state still come from the checkpoint.
    """

    def _parse_ckpt_path(self) -> None:
        return


class LogRunInfo(SaveConfigCallback):
    """Saves ``config.yaml`` to the log directory (as Lightning's callback) and logs to the run's logger
    the resolved config (``model``, ``data``, ``trainer``, ... as sections), the ``command`` (``fit``,
    ``test``, ...), the code's ``git`` commit and a ``data_fingerprint``
    (:mod:`hdrsyn.provenance`). Rank 0 only."""

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if trainer.logger is None:
            return
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        command = getattr(stage, "value", stage)  # Lightning passes its TrainerFn ("fit", "test", ...)
        trainer.logger.log_hyperparams({**config, "command": str(command), "git": git_state(),
                                        "data_fingerprint": data_fingerprint(trainer.datamodule)})


def finish_wandb_run(exit_code: int = 0) -> None:
    """Finish the live W&B run, if any, so that the next ``WandbLogger`` in this process starts its own run
    (a ``WandbLogger`` otherwise reuses a live run: every stage of ``hdrsyn pipeline`` would land in one)."""
    wandb = sys.modules.get("wandb")
    if wandb is not None and wandb.run is not None:
        wandb.finish(exit_code=exit_code)


def run(args: Sequence[str] | None = None) -> None:
    """Run :class:`HDRSynCLI` with ``args`` (default: ``sys.argv[1:]``) as one W&B run, finished at the end.

    The resolved config is saved next to the logs (replacing the one of an earlier run in the same
    directory) and logged with the run (:class:`LogRunInfo`). W&B is offline-first: without
    ``WANDB_MODE`` set, runs are written locally (``wandb sync`` uploads them later)."""
    os.environ.setdefault("WANDB_MODE", "offline")
    try:
        HDRSynCLI(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=list(args) if args is not None else None,
            save_config_callback=LogRunInfo,
            save_config_kwargs={"overwrite": True},
        )
    except BaseException:
        finish_wandb_run(exit_code=1)
        raise
    finish_wandb_run()
