"""Our LightningCLI (``lightning fit|validate|test|predict``), kept apart so the tools start without Lightning."""

from __future__ import annotations

import os
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.cli import LightningCLI

from hdrsyn.errors import MissingFileError, UsageError, usage_error


class HDRSynCLI(LightningCLI):
    """LightningCLI in which ``--config`` and the command line alone define the model.

    Since Lightning 2.5.5, ``--ckpt_path`` re-parses the checkpoint's saved hyperparameters over the
    configuration, which silently overrides what the user asked for (e.g. ``output_dir`` of a test run,
    a moved ``global_ckpt`` on resume) and can even swap the model class between stages. Weights and
    trainer state still come from the checkpoint.

    A class that refuses its configured arguments (an unknown width, a missing stage checkpoint) is a
    configuration error: it is re-raised as a :class:`~hdrsyn.errors.UsageError` with the class's own message.
    """

    def _parse_ckpt_path(self) -> None:
        return

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except Exception as error:  # noqa: BLE001 - jsonargparse wraps what the classes raise
            cause = error
            while cause.__cause__ is not None:
                cause = cause.__cause__
            raise UsageError(f"bad configuration: {cause}") from error

    def _run_subcommand(self, subcommand: str) -> None:
        check_ckpt_path(self.config_init[subcommand].get("ckpt_path"))
        super()._run_subcommand(subcommand)


def check_ckpt_path(ckpt_path: str | None) -> None:
    """Refuse a local ``--ckpt_path`` that is missing or not a checkpoint (a truncated one has no zip directory).

    Lightning's keywords (``last``, ``best``, ``hpc``, ``registry...``) and remote URLs are left to Lightning.
    """
    text = str(ckpt_path)
    if ckpt_path is None or text in ("last", "best", "hpc") or text.startswith("registry") or "://" in text:
        return
    path = Path(text)
    if not path.is_file():
        raise MissingFileError(f"--ckpt_path={str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"--ckpt_path={str(path)!r} is truncated or not a checkpoint; use another checkpoint")


def run(args: Sequence[str] | None = None) -> None:
    """Run :class:`HDRSynCLI` with ``args`` (default: ``sys.argv[1:]``); the resolved config is saved
    next to the logs, replacing the one of an earlier run in the same directory. W&B is offline-first:
    without ``WANDB_MODE`` set, runs are written locally (``wandb sync`` uploads them later).

    A :class:`~hdrsyn.errors.UsageError` (bad configuration, checkpoint or dataset), before or during the
    run, ends the command with its message alone and exit status 2."""
    os.environ.setdefault("WANDB_MODE", "offline")
    command = (list(args) if args is not None else sys.argv[1:])[:1]
    try:
        HDRSynCLI(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=list(args) if args is not None else None,
            save_config_kwargs={"overwrite": True},
        )
    except Exception as error:
        cause = usage_error(error)
        if cause is None:
            raise
        print(f"hdrsyn {' '.join(command)}: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
