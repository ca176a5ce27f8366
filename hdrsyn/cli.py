"""Command-line entry points: ``lightning`` / ``hdrsyn`` / ``python -m hdrsyn``.

``lightning fit|validate|test|predict --config X.yaml`` runs our LightningCLI (any LightningModule
and LightningDataModule given by ``class_path``). ``hdrsyn`` accepts the same four subcommands plus the
tools below; it is the collision-proof name, since another package may install a ``lightning`` script.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

TOOLS = {
    "pipeline": ("pipeline", "run the paper's three training stages and a test pass"),
    "compare": ("compare", "one table and bar chart from several runs' test summaries"),
    "reconstruct": ("reconstruct", "single photos -> exposure stack -> HDR with the packaged model or a checkpoint"),
    "package-model": ("pretrained", "package a trained joint-stage checkpoint as a model of this installation"),
    "export": ("export", "export the stack generator to ONNX"),
    "merge": ("merge", "merge a bracketed stack of photos into an HDR file"),
    "make-dataset": ("make_dataset", "render a VDS-layout dataset from a folder of HDR photos"),
}
"""The non-Lightning subcommands: name -> (module in ``hdrsyn`` with ``main(argv) -> exit code``, help).

Only the module of the command that runs is imported, so the tools that do not need Lightning
(``merge``, ``compare``, ``export``, ``reconstruct``) start without it: ``hdrsyn merge --help`` takes
2.7 s instead of 6.0 s on a 2-core CPU."""


def lightning_main(args: Sequence[str] | None = None) -> None:
    """``lightning`` entry point: our LightningCLI (see :mod:`hdrsyn.lightning_cli`) with ``args``."""
    from hdrsyn.lightning_cli import run

    run(args)


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn`` entry point: a Lightning subcommand or one of the tools."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
        lightning_main(argv)
        return 0
    if not argv or argv[0] not in TOOLS:
        parser = argparse.ArgumentParser(prog="hdrsyn", description=__doc__.splitlines()[0])
        choices = [*LIGHTNING_SUBCOMMANDS, *TOOLS]
        parser.add_argument("command", choices=choices, help="; ".join(f"{k}: {v[1]}" for k, v in TOOLS.items()))
        parser.parse_args(argv[:1])
        return 2
    tool = importlib.import_module(f"hdrsyn.{TOOLS[argv[0]][0]}")
    return tool.main(argv[1:])
