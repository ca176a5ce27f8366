"""``hdrsyn package-model``: package a trained joint-stage checkpoint as a model of this installation.

What a packaged model holds and how it is verified is :mod:`hdrsyn.pretrained`.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from hdrsyn.errors import ArgumentParser, UsageError
from hdrsyn.pretrained import package_model


def parse_recipe(text: str) -> dict[str, Any]:
    """The ``--recipe`` JSON object."""
    try:
        recipe = json.loads(text)
    except json.JSONDecodeError as error:
        raise UsageError(f"--recipe is not valid JSON ({error})") from None
    if not isinstance(recipe, dict):
        raise UsageError("--recipe must be a JSON object, e.g. '{\"steps\": 1000}'")
    return recipe


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn package-model CKPT --name NAME [--folder DIR] [--recipe JSON] [--not-default] [--replace]``."""
    parser = ArgumentParser(prog="hdrsyn package-model", description="package a trained joint-stage checkpoint as a model of this installation "
                            "(hdrsyn/assets/models; the default model unless --not-default)")
    parser.add_argument("ckpt", type=Path, help="joint-stage checkpoint to package")
    parser.add_argument("--name", required=True, help="model name (file <name>.pt): letters, digits, '.', '_', '-'")
    parser.add_argument("--folder", type=Path, default=None, help="models folder (default: the package's)")
    parser.add_argument("--recipe", default="{}", help="JSON object stored with the model (config, steps, time)")
    parser.add_argument("--not-default", action="store_true", help="keep the current default model")
    parser.add_argument("--replace", action="store_true",
                        help="replace the model of this name; its old file is kept as <name>.<sha8>.pt")
    args = parser.parse_args(argv)
    try:
        recipe = parse_recipe(args.recipe)
        path = package_model(args.ckpt, args.name, args.folder, not args.not_default, recipe, args.replace)
    except ValueError as error:  # UsageError, CheckpointError and MissingFileError are ValueErrors
        print(f"hdrsyn package-model: error: {error}", file=sys.stderr)
        return 2
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
