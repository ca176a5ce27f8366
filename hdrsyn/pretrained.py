"""Models shipped inside the package (``hdrsyn/assets/models``): verified on load, used when no checkpoint is given.

A packaged model is one file ``<name>.pt`` holding only tensors and plain values (loaded with
``torch.load(weights_only=True)``, so it cannot run code): the LightningModule class it comes from, the
hyperparameters that build its network, its weights in half precision (upcast to float32 on load) and
how it was made. ``models.json`` beside the files names the default model and each file's sha256; a file
whose bytes do not match is refused, naming it. :func:`package_model` (``hdrsyn package-model CKPT``, in
:mod:`hdrsyn.cli.package_model`) writes both from a trained checkpoint. The default model, its data, recipe
and scores are described in ``MODEL.md``.

Example:
    >>> from hdrsyn.pretrained import load_pretrained
    >>> model = load_pretrained()
    >>> model.output, model.evs
    ('stack', (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0))
"""

from __future__ import annotations

import json
import os
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from hdrsyn.assets_index import ASSETS
from hdrsyn.errors import MissingFileError, UsageError
from hdrsyn.io import output_group
from hdrsyn.model_registry import PACKAGED_FORMAT, CheckpointError, Reconstructor, build_reconstructor, read_checkpoint
from hdrsyn.provenance import file_sha256

MODELS_DIR = ASSETS / "models"
#: Identifies a packaged model file (``format``) and the layout of its dictionary (``version``).
FORMAT, VERSION = PACKAGED_FORMAT, 1
#: A model name: the stem of its file in the models folder.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def read_manifest(folder: Path | None = None) -> dict[str, Any]:
    """``models.json`` of ``folder`` (default :data:`MODELS_DIR`): ``{"default": name, "models": {name:
    {"file", "sha256", ...}}, "replaced": [{"name", "file", "sha256"}, ...]}`` (``replaced`` only once a model
    was replaced)."""
    path = (folder or MODELS_DIR) / "models.json"
    if not path.is_file():
        raise MissingFileError(f"{path} does not exist: this installation has no packaged model; pass --ckpt")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise CheckpointError(f"cannot read {path}: {error}") from error
    if not (isinstance(manifest, dict) and isinstance(manifest.get("models"), dict) and "default" in manifest):
        raise CheckpointError(f"{path} is not a models manifest (no 'default' and 'models')")
    return manifest


def check_model_name(name: str) -> None:
    """Refuse a model name that is not a plain file stem: :data:`NAME_PATTERN`, no ``..``, not ``models``."""
    if not NAME_PATTERN.fullmatch(name) or ".." in name or name.lower() == "models":
        raise UsageError(
            f"--name {name!r}: a model name is letters, digits, '.', '_' and '-', starts with a letter or digit, "
            "has no '..' and is not 'models'"
        )


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
                  recipe: dict[str, Any] | None = None, replace: bool = False) -> Path:
    """Write checkpoint ``ckpt`` (a joint stage) as packaged model ``<folder>/<name>.pt`` and register it
    (``folder`` default :data:`MODELS_DIR`).

    Only the weights of the network that reconstructs (the joint stage's generator) are kept, in float16
    (their float32 values differ by < 1e-3 relatively), with the hyperparameters its class registered
    (:func:`~hdrsyn.model_registry.register_reconstructor`); ``recipe`` (e.g. config file, steps, wall
    time) is stored with them. ``models.json`` gets the file's sha256 and, with ``make_default``, names it
    the default (the first model of a folder always is). A model of the same name is refused unless
    ``replace``; then its file is kept as ``<name>.<first 8 hex of its sha256>.pt`` and listed under the
    manifest's ``replaced``. All files are written together or not at all.

    Raises:
        UsageError: a bad name, a name taken without ``replace``, ``make_default=False`` for a folder without
            a manifest, or a folder that cannot be written.
        CheckpointError: ``ckpt`` is not a joint-stage checkpoint.
    """
    check_model_name(name)
    folder = folder or MODELS_DIR
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--folder {folder} is not a folder")
    manifest_path, path = folder / "models.json", folder / f"{name}.pt"
    manifest = read_manifest(folder) if manifest_path.is_file() else None
    if manifest is None and not make_default:
        raise UsageError(f"--not-default: {manifest_path} does not exist yet, so there is no default model to keep; "
                         "the first model of a folder is its default (drop --not-default)")
    manifest = manifest or {"default": name, "models": {}}
    taken = name in manifest["models"] or path.exists()
    if taken and not replace:
        raise UsageError(f"--name {name!r}: {path} is already a packaged model; pass --replace to replace it "
                         f"(the old file is kept as {name}.<sha8>.pt)")
    check_writable(folder)
    packaged = {**packaged_model(ckpt), "recipe": dict(recipe or {})}
    old_sha256 = file_sha256(path) if taken and path.is_file() else None
    kept = folder / f"{name}.{old_sha256[:8]}.pt" if old_sha256 else None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with output_group([p for p in (path, manifest_path, kept) if p is not None], overwrite=True) as staged:
            if kept is not None:
                shutil.copy2(path, staged[kept])
                manifest.setdefault("replaced", []).append({"name": name, "file": kept.name, "sha256": old_sha256})
            with staged[path].open("wb") as stream:
                torch.save(packaged, stream)
            manifest["models"][name] = {"file": path.name, "sha256": file_sha256(staged[path]),
                                        "class_path": packaged["hyper_parameters"]["_class_path"],
                                        "global_step": packaged["global_step"]}
            if make_default:
                manifest["default"] = name
            staged[manifest_path].write_text(json.dumps(manifest, indent=2) + "\n")
    except PermissionError as error:
        raise read_only(folder) from error
    except OSError as error:
        raise UsageError(f"cannot write to {folder}: {error.strerror or error}") from error
    return path


def read_only(folder: Path) -> UsageError:
    """The error for a models folder this user cannot write to."""
    return UsageError(f"cannot write to {folder}: it is read-only (an installed package's folder usually is); "
                      "pass --folder DIR to package the model into a folder of your own")


def check_writable(folder: Path) -> None:
    """Refuse (:func:`read_only`) a folder, or the nearest existing folder above it, that this user cannot write."""
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not os.access(existing, os.W_OK | os.X_OK):
        raise read_only(folder)


def packaged_model(ckpt: Path) -> dict[str, Any]:
    """The packaged-model dictionary of joint-stage checkpoint ``ckpt``: class, hyperparameters, float16 weights."""
    checkpoint = read_checkpoint(ckpt)
    model = build_reconstructor(checkpoint, ckpt)  # refuses what cannot reconstruct (stage 1, NaN weights)
    class_path = model.class_path
    if not model.packaged_hparams:
        raise CheckpointError(f"{ckpt} is a {class_path} checkpoint; only joint-stage models are packaged")
    hparams = checkpoint["hyper_parameters"]
    state = {k: v.detach().to(torch.float16) if v.is_floating_point() else v
             for k, v in model.network.state_dict().items()}
    return {
        "format": FORMAT, "version": VERSION,
        "hyper_parameters": {"_class_path": class_path,
                             **{k: hparams[k] for k in model.packaged_hparams if k in hparams}},
        "state_dict": state,
        "global_step": int(checkpoint.get("global_step", 0)),
    }

