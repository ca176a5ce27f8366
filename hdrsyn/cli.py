"""Command-line entry points: ``lightning`` / ``hdrsyn`` / ``python -m hdrsyn``.

``lightning fit|validate|test|predict --config X.yaml`` runs our LightningCLI (any LightningModule
and LightningDataModule given by ``class_path``). ``hdrsyn`` accepts the same four subcommands plus the
tools below; it is the collision-proof name, since another package may install a ``lightning`` script.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence

from pytorch_lightning import LightningDataModule, LightningModule
from pytorch_lightning.cli import LightningCLI

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")


class HDRSynCLI(LightningCLI):
    """LightningCLI in which ``--config`` and the command line alone define the model.

    Since Lightning 2.5.5, ``--ckpt_path`` re-parses the checkpoint's saved hyperparameters over the
    configuration, which silently overrides what the user asked for (e.g. ``output_dir`` of a test run,
    a moved ``global_ckpt`` on resume) and can even swap the model class between stages. Weights and
    trainer state still come from the checkpoint.
    """

    def _parse_ckpt_path(self) -> None:
        return


def lightning_main(args: Sequence[str] | None = None) -> None:
    """Run the LightningCLI with ``args`` (default: ``sys.argv[1:]``); the resolved config is saved
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


def _tools() -> dict[str, tuple[str, Callable[[Sequence[str]], int]]]:
    """The non-Lightning subcommands: name -> (help, main(argv) -> exit code). Imported lazily."""
    from hdrsyn import compare, export, make_dataset, merge, pipeline, reconstruct

    return {
        "pipeline": ("run the paper's three training stages and a test pass", pipeline.main),
        "compare": ("one table and bar chart from several runs' test summaries", compare.main),
        "reconstruct": ("single photos -> exposure stack -> HDR with a trained checkpoint", reconstruct.main),
        "export": ("export the stack generator to ONNX", export.main),
        "merge": ("merge a bracketed stack of photos into an HDR file", merge.main),
        "make-dataset": ("render a VDS-layout dataset from a folder of HDR photos", make_dataset.main),
    }


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn`` entry point: a Lightning subcommand or one of the tools."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
        lightning_main(argv)
        return 0
    tools = _tools()
    if not argv or argv[0] not in tools:
        parser = argparse.ArgumentParser(prog="hdrsyn", description=__doc__.splitlines()[0])
        choices = [*LIGHTNING_SUBCOMMANDS, *tools]
        parser.add_argument("command", choices=choices, help="; ".join(f"{k}: {v[0]}" for k, v in tools.items()))
        parser.parse_args(argv[:1])
        return 2
    return tools[argv[0]][1](argv[1:])
