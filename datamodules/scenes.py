"""Dataset errors and the checks that find bad scenes before training starts."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any, Literal, TypeVar

import OpenEXR
from PIL import Image

from hdrsyn.errors import MissingFileError, UsageError

#: What to do with a bad scene (missing exposure, unreadable image, HDR of another size).
OnBadScene = Literal["skip", "error"]


class DatasetNotFoundError(MissingFileError):
    """A dataset root is missing or does not have the expected layout."""


class BadSceneError(UsageError, RuntimeError):
    """A scene has a missing file, an unreadable image or images of different sizes."""

    def __init__(self, scene: str, path: Path, reason: str) -> None:
        super().__init__(f"bad scene {scene!r}: {reason}: {path}")
        self.scene, self.path, self.reason = scene, path, reason


def not_found(name: str, root: Path, missing: Path, tree: str, source: str) -> DatasetNotFoundError:
    """A :class:`DatasetNotFoundError`, one line: what is missing, the expected layout (the paths of ``tree``,
    one per line followed by a description) and where to get the dataset.

    Example:
        >>> print(not_found("X", Path("/data"), Path("/data/a"), "  a/<scene>.png   inputs", "Get X."))
        X dataset not found: /data/a does not exist (expected under root=/data: a/<scene>.png). Get X. Without a dataset, use dataset='sample' (bundled) or build one from your own HDR photos with `hdrsyn make-dataset SRC_DIR OUT_ROOT`.
    """
    layout = ", ".join(line.split()[0] for line in tree.splitlines() if line.strip())
    return DatasetNotFoundError(
        f"{name} dataset not found: {missing} does not exist (expected under root={root}: {layout}). {source} "
        "Without a dataset, use dataset='sample' (bundled) or build one from your own HDR photos "
        "with `hdrsyn make-dataset SRC_DIR OUT_ROOT`."
    )


def handle_bad_scene(error: BadSceneError, policy: OnBadScene) -> None:
    """Raise ``error`` (policy ``"error"``) or warn that the scene is skipped (policy ``"skip"``)."""
    if policy == "error":
        raise error
    if policy != "skip":
        raise ValueError(f"on_bad_scene must be 'skip' or 'error', got {policy!r}")
    warnings.warn(f"skipping {error}", stacklevel=3)


def probe_size(path: Path) -> tuple[int, int]:
    """``(height, width)`` of an image file from its header only (PNG/JPEG/TIFF, Radiance, OpenEXR).

    Raises ``OSError`` or ``ValueError`` when the header cannot be parsed.
    """
    suffix = path.suffix.lower()
    if suffix == ".exr":
        low, high = OpenEXR.File(str(path), header_only=True).header()["dataWindow"]
        return int(high[1] - low[1] + 1), int(high[0] - low[0] + 1)
    if suffix == ".hdr":
        return _radiance_size(path)
    with Image.open(path) as image:
        width, height = image.size
    return height, width


def _radiance_size(path: Path) -> tuple[int, int]:
    """Size from a Radiance header: the first line after the blank line reads e.g. ``-Y 480 +X 640``."""
    with path.open("rb") as file:
        if not file.readline().startswith(b"#?"):
            raise ValueError("not a Radiance file (no '#?' signature)")
        for _ in range(64):
            if not file.readline().strip():
                break
        tokens = file.readline().split()
    if len(tokens) != 4 or {tokens[0][1:], tokens[2][1:]} != {b"X", b"Y"}:
        raise ValueError(f"unreadable Radiance resolution line {b' '.join(tokens)!r}")
    sizes = {tokens[0][1:]: int(tokens[1]), tokens[2][1:]: int(tokens[3])}
    return sizes[b"Y"], sizes[b"X"]


def check_scene(scene: str, ldr_paths: list[Path], hdr_path: Path) -> None:
    """Raise :class:`BadSceneError` unless all files exist, have readable headers and one size."""
    sizes = {}
    for path in [*ldr_paths, hdr_path]:
        if not path.is_file():
            raise BadSceneError(scene, path, "missing file")
        try:
            sizes[path] = probe_size(path)
        except (OSError, ValueError, RuntimeError) as error:
            raise BadSceneError(scene, path, f"unreadable image ({error})") from error
    expected = sizes[ldr_paths[0]]
    for path, size in sizes.items():
        if size != expected:
            raise BadSceneError(
                scene, path, f"size {size[1]}x{size[0]} differs from {ldr_paths[0].name} ({expected[1]}x{expected[0]})"
            )


Scene = TypeVar("Scene", bound=Any)


def good_scenes(scenes: Iterable[Scene], ldr_paths: Callable[[Scene], list[Path]], policy: OnBadScene) -> list[Scene]:
    """The ``scenes`` (each with ``name`` and ``hdr_path``) whose files pass :func:`check_scene`; a bad one
    raises its :class:`BadSceneError`, or with ``policy="skip"`` is left out with a warning."""
    good = []
    for scene in scenes:
        try:
            check_scene(scene.name, ldr_paths(scene), scene.hdr_path)
        except BadSceneError as error:
            handle_bad_scene(error, policy)
            continue
        good.append(scene)
    return good
