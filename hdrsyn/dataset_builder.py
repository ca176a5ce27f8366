"""A dataset in the VDS layout rendered from a folder of HDR photos (the library of ``hdrsyn make-dataset``,
:mod:`hdrsyn.cli.make_dataset`, whose options the names below refer to).

Every source photo (``.hdr`` / ``.exr``) gives ``--crops-per-image`` scenes rendered like the bundled
sample (:func:`hdrsyn.render.render_random_view`): perspective views of equirectangular panoramas (2:1
images, or ``--projection panorama``) or square zoom-crops of flat photos, a random real camera response
(EMoR), per-scene auto exposure, optional sensor noise, 8-bit exposures EV -3..+3. Whole source photos
are held out (``--val-fraction``) into the layout's test split, so no photo feeds both splits::

    OUT_ROOT/train_set/<scene>/<scene>_{-3..3}EV_true.jpg.png    OUT_ROOT/train_hdr_set/<scene>/target_hdr.hdr
    OUT_ROOT/test_set/...                                         OUT_ROOT/test_hdr_set/...
    OUT_ROOT/manifest.json   the arguments and the source photo of every scene

The result is read with ``HDRStackDataModule(dataset="vds", root=OUT_ROOT)``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from hdrsyn.contact_sheet import save_contact_sheet
from hdrsyn.io import HDR_EXTENSIONS, read_hdr, write_hdr, write_ldr
from hdrsyn.render import EMoR, ViewSampling, render_random_view, repair_hdr
from hdrsyn.vds_layout import MANIFEST_NAME, scene_hdr_path, scene_ldr_paths

_PREVIEW_ROWS = 4
#: Largest share of a source photo's pixels with a negative channel: resampling halos around lamps and suns
#: (at most 2.8 % of the pixels of the bundled photos), repaired by :func:`repair_hdr`; more is not radiance.
MAX_NEGATIVE = 0.10


class DatasetError(ValueError):
    """A bad argument, source photo or output folder; the command prints its message alone (exit 2)."""


def check_sources(src_dir: Path) -> list[Path]:
    """The HDR photos under ``src_dir`` (:func:`find_sources`), each read and checked (:func:`check_source`)."""
    sources = find_sources(src_dir)
    if not sources:
        raise DatasetError(f"no {' / '.join(HDR_EXTENSIONS)} files in {src_dir}")
    for source in tqdm(sources, unit="photo", desc="checking photos"):
        check_source(source, read_hdr(source))
    return sources

def check_output(src_dir: Path, out_root: Path, overwrite: bool) -> None:
    """Refuse an output that is, holds or lies in the source folder, a file, someone else's non-empty folder,
    and (without ``overwrite``) an existing dataset."""
    src, out = src_dir.resolve(), out_root.resolve()
    if out == src or src.is_relative_to(out) or out.is_relative_to(src):
        raise DatasetError(f"{out_root} is, contains or lies in the source folder {src_dir}; choose an output "
                           "folder outside it")
    if out_root.exists() and not out_root.is_dir():
        raise DatasetError(f"{out_root} is a file, not a dataset folder")
    if not out_root.is_dir() or not any(out_root.iterdir()):
        return
    if not is_our_dataset(out_root):
        raise DatasetError(f"{out_root} is not empty and is not a dataset made by hdrsyn make-dataset (no "
                           f"{MANIFEST_NAME} of ours): choose a new or empty folder; --overwrite replaces only "
                           "datasets made by this command")
    if not overwrite:
        raise DatasetError(f"{out_root} already holds a dataset; pass --overwrite to replace it")


def is_our_dataset(root: Path) -> bool:
    """Whether ``root`` holds the manifest of a dataset written by this command."""
    try:
        manifest = json.loads((root / MANIFEST_NAME).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and isinstance(manifest.get("arguments"), dict) and isinstance(
        manifest.get("scenes"), dict)


def check_source(source: Path, image: np.ndarray) -> None:
    """Refuse a photo with NaN / Inf values, no positive value, or negative values on more than
    :data:`MAX_NEGATIVE` of its pixels; fewer (resampling halos) are repaired by :func:`repair_hdr`."""
    if not np.isfinite(image).all():
        raise DatasetError(f"{source}: {int((~np.isfinite(image)).any(-1).sum())} pixels are NaN or infinite; "
                           "repair or remove the photo")
    if not (image > 0).any():
        raise DatasetError(f"{source}: no positive value (an all-black photo); remove it")
    negative = float((image < 0).any(-1).mean())
    if negative > MAX_NEGATIVE:
        raise DatasetError(f"{source}: {negative:.0%} of the pixels are negative (more than resampling halos, at "
                           f"most {MAX_NEGATIVE:.0%}): not linear radiance; repair or remove the photo")


def build_dataset(args: argparse.Namespace, sources: list[Path]) -> int:
    """Render every scene into a hidden sibling of ``args.out_root``, then move it into place; the scene count.

    On any failure the sibling is removed and ``args.out_root`` is left as it was.
    """
    out_root = args.out_root
    out_root.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_root.name}.", suffix=".tmp", dir=out_root.parent))
    try:
        manifest, preview = render_dataset(args, sources, staging)
        (staging / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
        if args.preview is not None:
            labels, stacks, hdrs = zip(*preview)
            save_contact_sheet(args.preview, stacks, hdrs, names=labels)
            print(f"preview: {args.preview}")
        replace_folder(staging, out_root)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return len(manifest["scenes"])


def render_dataset(args: argparse.Namespace, sources: list[Path], root: Path
                   ) -> tuple[dict[str, Any], list[tuple[str, np.ndarray, np.ndarray]]]:
    """Write every scene under ``root``; the manifest and a few ``(scene, stack, hdr)`` for the preview."""
    held_out = held_out_sources(len(sources), args.val_fraction, args.seed)
    sampling = ViewSampling(
        fov=tuple(args.fov), pitch=tuple(args.pitch), zoom=tuple(args.zoom), noise=not args.no_noise
    )
    emor = EMoR.load()
    manifest: dict[str, Any] = {"arguments": {k: str(v) for k, v in vars(args).items()}, "scenes": {}}
    preview: list[tuple[str, np.ndarray, np.ndarray]] = []
    with tqdm(total=len(sources) * args.crops_per_image, unit="scene", desc="make-dataset") as progress:
        for index, (source, stem) in enumerate(zip(sources, scene_stems(sources))):
            image = repair_hdr(read_hdr(source))
            split = "test" if index in held_out else "train"
            panorama = is_panorama(image, args.projection)
            rng = np.random.default_rng([args.seed, index])
            for crop in range(args.crops_per_image):
                scene = f"{stem}_{crop:03d}"
                stack, hdr = render_random_view(image, emor, rng, args.size, panorama, sampling)
                if not hdr.max() > 0:
                    raise DatasetError(f"{source}: view {crop} is all black (the photo has large black areas); "
                                       "crop them away or remove the photo")
                write_scene(root, split, scene, stack, hdr)
                manifest["scenes"][scene] = {"split": split, "source": str(source), "panorama": panorama}
                if len(preview) < _PREVIEW_ROWS and crop == 0:
                    preview.append((scene, stack, hdr))
                progress.update()
    return manifest, preview


def replace_folder(new: Path, destination: Path) -> None:
    """Move folder ``new`` onto ``destination``; an existing ``destination`` is removed only once ``new`` is there."""
    if not destination.exists():
        os.replace(new, destination)
        return
    old = new.with_name(f"{new.name}.old")
    os.replace(destination, old)
    try:
        os.replace(new, destination)
    except BaseException:
        os.replace(old, destination)
        raise
    shutil.rmtree(old, ignore_errors=True)


def find_sources(src_dir: Path) -> list[Path]:
    """HDR photos under ``src_dir`` (recursive, extension case-insensitive), sorted."""
    if not src_dir.is_dir():
        return []
    return sorted(p for p in src_dir.rglob("*") if p.is_file() and p.suffix.lower() in HDR_EXTENSIONS)


def scene_stems(sources: Sequence[Path]) -> list[str]:
    """Unique scene-name prefixes from the file names (characters other than ``A-Za-z0-9-`` become ``-``)."""
    stems: list[str] = []
    for source in sources:
        stem = re.sub(r"[^A-Za-z0-9-]+", "-", source.stem).strip("-") or "photo"
        candidate, count = stem, 1
        while candidate in stems:
            count += 1
            candidate = f"{stem}-{count}"
        stems.append(candidate)
    return stems


def held_out_sources(count: int, fraction: float, seed: int) -> set[int]:
    """Indices of the photos held out: ``round(fraction * count)``, at least one if ``fraction > 0``."""
    if fraction <= 0 or count < 2:
        return set()
    size = min(max(round(fraction * count), 1), count - 1)
    return set(np.random.default_rng(seed).permutation(count)[:size].tolist())


def is_panorama(image: np.ndarray, projection: str) -> bool:
    """Whether to take perspective views (``projection`` ``"auto"``: the image is 2:1)."""
    if projection == "auto":
        height, width = image.shape[:2]
        return width == 2 * height
    return projection == "panorama"


def write_scene(root: Path, split: str, scene: str, stack: np.ndarray, hdr: np.ndarray) -> None:
    """Write one scene's exposures and HDR in the VDS layout."""
    for path, image in zip(scene_ldr_paths(root, split, scene), stack):
        write_ldr(path, image)
    write_hdr(scene_hdr_path(root, split, scene), hdr)
