"""Our LightningCLI (``lightning fit|validate|test|predict``), kept apart so the tools start without Lightning."""

from __future__ import annotations

import os
from collections.abc import Sequence

from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.cli import LightningCLI


class HDRSynCLI(LightningCLI):
    """LightningCLI in which ``--config`` and the command line alone define the model.

    Since Lightning 2.5.5, ``--ckpt_path`` re-parses the checkpoint's saved hyperparameters over the
    configuration, which silently overrides what the user asked for (e.g. ``output_dir`` of a test run,
    a moved ``global_ckpt`` on resume) and can even swap the model class between stages. Weights and
    trainer state still come from the checkpoint.
    """

    def _parse_ckpt_path(self) -> None:
        return


def run(args: Sequence[str] | None = None) -> None:
    """Run :class:`HDRSynCLI` with ``args`` (default: ``sys.argv[1:]``); the resolved config is saved
    next to the logs, replacing the one of an earlier run in the same directory. W&B is offline-first:
    without ``WANDB_MODE`` set, runs are written locally (``wandb sync`` uploads them later)."""
    os.environ.setdefault("WANDB_MODE", "offline")
    HDRSynCLI(
        LightningModule,
        LightningDataModule,
        subclass_mode_model=True,
        subclass_mode_data=True,
        args=list(args) if args is not None else None,
        save_config_kwargs={"overwrite": True},
    )
