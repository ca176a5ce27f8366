"""What a run's numbers were produced from: the code's git commit, a fingerprint of the data, the checkpoint."""

from __future__ import annotations

import hashlib
import json
import subprocess
from pathlib import Path
from typing import Any

import torch

#: The repository (or installed package) holding this code.
CODE_ROOT = Path(__file__).resolve().parents[1]
#: Data-module settings that change how data is loaded, not which data: left out of the fingerprint.
LOADER_SETTINGS = frozenset({"batch_size", "num_workers", "pin_memory"})
_ASSETS = Path(__file__).resolve().parent / "assets"


def git_state(root: Path = CODE_ROOT) -> dict[str, Any]:
    """``{"commit": sha or None, "dirty": bool or None}`` of the code at ``root`` (None outside a git checkout).

    ``dirty``: tracked files differ from the commit.

    Example:
        >>> sorted(git_state())
        ['commit', 'dirty']
    """
    def git(*args: str) -> str | None:
        try:
            done = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        return done.stdout.strip() if done.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    if commit is None:
        return {"commit": None, "dirty": None}
    return {"commit": commit, "dirty": bool(git("status", "--porcelain", "--untracked-files=no"))}


def data_fingerprint(datamodule: Any) -> dict[str, Any] | None:
    """A sha256 of what decides a data module's samples, with the dataset's name and source folder.

    Hashed: the module's hyperparameters (less :data:`LOADER_SETTINGS`) and the relative path and size
    of every file under its ``root`` (for the bundled sample, which has no root: the bundled assets).
    File contents are not read, so fingerprinting a large dataset takes a directory walk. None when
    ``datamodule`` is None.

    Example:
        >>> from datamodules.hdr_stack import HDRStackDataModule
        >>> data_fingerprint(HDRStackDataModule(image_size=64))["dataset"]
        'sample'
    """
    if datamodule is None:
        return None
    settings = {k: v for k, v in dict(getattr(datamodule, "hparams", {})).items() if k not in LOADER_SETTINGS}
    root = getattr(datamodule, "root", None)
    source = Path(root).expanduser() if root is not None else _ASSETS
    files = sorted((p.relative_to(source).as_posix(), p.stat().st_size) for p in source.rglob("*") if p.is_file())
    text = json.dumps({"settings": settings, "files": files}, sort_keys=True, default=str)
    return {
        "dataset": settings.get("dataset"),
        "source": str(source),
        "files": len(files),
        "sha256": hashlib.sha256(text.encode()).hexdigest(),
    }


def file_sha256(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's bytes, read in ``chunk``-byte pieces."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as stream:
        while block := stream.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def checkpoint_record(path: str | Path | None) -> dict[str, Any] | None:
    """``{"path", "global_step", "sha256"}`` of a Lightning checkpoint (None when ``path`` is None).

    ``global_step`` is read from the file (memory-mapped), since ``trainer.test(ckpt_path=...)``
    restores the weights but leaves the trainer's own step at 0.
    """
    if path is None:
        return None
    path = Path(path).resolve()
    checkpoint = torch.load(path, map_location="cpu", mmap=True, weights_only=False)
    return {"path": str(path), "global_step": int(checkpoint.get("global_step", 0)), "sha256": file_sha256(path)}
