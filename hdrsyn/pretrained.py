"""Models shipped inside the package (``hdrsyn/assets/models``): verified on load, used when no checkpoint is given.

A packaged model is one file ``<name>.pt`` holding only tensors and plain values (loaded with
``torch.load(weights_only=True)``, so it cannot run code): the LightningModule class it comes from, the
hyperparameters that build its network, its weights in half precision (upcast to float32 on load) and
how it was made. ``models.json`` beside the files names the default model and each file's sha256; a file
whose bytes do not match is refused, naming it. ``hdrsyn package-model CKPT`` writes both from a
trained checkpoint. The default model, its data, recipe and scores are described in ``MODEL.md``.

Example:
    >>> from hdrsyn.pretrained import load_pretrained
    >>> model = load_pretrained()
    >>> model.output, model.evs
    ('stack', (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0))
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from hdrsyn.assets_index import ASSETS
from hdrsyn.errors import MissingFileError
from hdrsyn.io import output_group
from hdrsyn.model_registry import PACKAGED_FORMAT, CheckpointError, Reconstructor, build_reconstructor, read_checkpoint
from hdrsyn.provenance import file_sha256

MODELS_DIR = ASSETS / "models"
#: Identifies a packaged model file (``format``) and the layout of its dictionary (``version``).
FORMAT, VERSION = PACKAGED_FORMAT, 1


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """``models.json`` of ``folder`` (default :data:`MODELS_DIR`): ``{"default": name, "models": {name:
    {"file", "sha256", ...}}}``."""
    path = (folder or MODELS_DIR) / "models.json"
    if not path.is_file():
        raise MissingFileError(f"{path} does not exist: this installation has no packaged model; pass --ckpt")
    return json.loads(path.read_text())


def pretrained_path(name: str | None = None, folder: Path | None = None) -> Path:
    """The verified file of packaged model ``name`` (default: the manifest's ``default``) in ``folder``
    (default :data:`MODELS_DIR`).

    Raises:
        MissingFileError: no manifest, or the file is missing.
        CheckpointError: unknown ``name``, or the file's sha256 differs from the manifest's.
    """
    folder = folder or MODELS_DIR
    manifest = read_manifest(folder)
    name = manifest["default"] if name is None else name
    if name not in manifest["models"]:
        raise CheckpointError(f"no packaged model {name!r}; packaged: {sorted(manifest['models'])}")
    entry = manifest["models"][name]
    path = folder / entry["file"]
    if not path.is_file():
        raise MissingFileError(f"packaged model {name!r}: {path} is missing; reinstall hdrsyn")
    digest = file_sha256(path)
    if digest != entry["sha256"]:
        raise CheckpointError(
            f"{path} is damaged or was replaced: its sha256 is {digest}, but {folder / 'models.json'} expects "
            f"{entry['sha256']}; reinstall hdrsyn"
        )
    return path


def load_pretrained(name: str | None = None, device: str | torch.device = "cpu", folder: Path | None = None
                    ) -> Reconstructor:
    """Packaged model ``name`` (default: the default model), verified, as an eval-mode :class:`Reconstructor`."""
    path = pretrained_path(name, folder)
    return build_reconstructor(read_checkpoint(path), path).to(device)


def package_model(ckpt: Path, name: str, folder: Path | None = None, make_default: bool = True,
                  recipe: dict[str, Any] | None = None) -> Path:
    """Write checkpoint ``ckpt`` (a joint stage) as packaged model ``<folder>/<name>.pt`` and register it
    (``folder`` default :data:`MODELS_DIR`).

    Only the weights of the network that reconstructs (the joint stage's generator) are kept, in float16
    (their float32 values differ by < 1e-3 relatively), with the hyperparameters its class registered
    (:func:`~hdrsyn.model_registry.register_reconstructor`); ``recipe`` (e.g. config file, steps, wall
    time) is stored with them. ``models.json`` gets the file's sha256 and, with ``make_default``, names it
    the default. Both files are written together or not at all.
    """
    folder = folder or MODELS_DIR
    checkpoint = read_checkpoint(ckpt)
    model = build_reconstructor(checkpoint, ckpt)  # refuses what cannot reconstruct (stage 1, NaN weights)
    class_path = model.class_path
    if not model.packaged_hparams:
        raise CheckpointError(f"{ckpt} is a {class_path} checkpoint; only joint-stage models are packaged")
    hparams = checkpoint["hyper_parameters"]
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v
             for k, v in model.network.state_dict().items()}
    packaged = {
        "format": FORMAT, "version": VERSION,
        "hyper_parameters": {"_class_path": class_path,
                             **{k: hparams[k] for k in model.packaged_hparams if k in hparams}},
        "state_dict": state,
        "global_step": int(checkpoint.get("global_step", 0)),
        "recipe": dict(recipe or {}),
    }
    manifest = read_manifest(folder) if (folder / "models.json").is_file() else {"default": name, "models": {}}
    path, manifest_path = folder / f"{name}.pt", folder / "models.json"
    folder.mkdir(parents=True, exist_ok=True)
    with output_group([path, manifest_path], overwrite=True) as staged:
        torch.save(packaged, staged[path])
        manifest["models"][name] = {"file": path.name, "sha256": file_sha256(staged[path]),
                                    "class_path": class_path, "global_step": packaged["global_step"]}
        if make_default:
            manifest["default"] = name
        staged[manifest_path].write_text(json.dumps(manifest, indent=2) + "\n")
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn package-model CKPT --name NAME [--recipe JSON] [--not-default]``."""
    parser = argparse.ArgumentParser(prog="hdrsyn package-model", description=__doc__.splitlines()[0])
    parser.add_argument("ckpt", type=Path, help="joint-stage checkpoint to package")
    parser.add_argument("--name", required=True, help="model name (file <name>.pt)")
    parser.add_argument("--folder", type=Path, default=None, help="models folder (default: the package's)")
    parser.add_argument("--recipe", default="{}", help="JSON object stored with the model (config, steps, time)")
    parser.add_argument("--not-default", action="store_true", help="keep the current default model")
    args = parser.parse_args(argv)
    try:
        recipe = json.loads(args.recipe)
        if not isinstance(recipe, dict):
            raise ValueError("--recipe must be a JSON object")
        path = package_model(args.ckpt, args.name, args.folder, not args.not_default, recipe)
    except ValueError as error:  # CheckpointError and MissingFileError are ValueErrors
        print(f"hdrsyn package-model: error: {error}", file=sys.stderr)
        return 2
    print(f"{path} ({path.stat().st_size / 1e6:.1f} MB)")
    return 0
