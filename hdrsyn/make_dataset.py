"""``hdrsyn make-dataset``: turn a folder of HDR photos into a dataset in the VDS layout.

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
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from hdrsyn.contact_sheet import save_contact_sheet
from hdrsyn.io import HDR_EXTENSIONS, ImageIOError, read_hdr, write_hdr, write_ldr
from hdrsyn.render import EMoR, ViewSampling, render_random_view, repair_hdr
from hdrsyn.vds_layout import MANIFEST_NAME, ldr_folder, scene_hdr_path, scene_ldr_paths

_PREVIEW_ROWS = 4


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hdrsyn make-dataset",
        description="Render exposure stacks from your HDR photos into a VDS-layout dataset.",
    )
    parser.add_argument("src_dir", type=Path, help="folder with .hdr / .exr photos (searched recursively)")
    parser.add_argument("out_root", type=Path, help="output dataset root")
    parser.add_argument("--crops-per-image", type=int, default=8, help="scenes rendered per photo (default 8)")
    parser.add_argument("--size", type=int, default=256, help="side of the square images (default 256)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the split, views, responses and noise")
    parser.add_argument(
        "--val-fraction",
        type=float,
        default=0.1,
        help="share of the photos held out, whole, into the test split (default 0.1; >= 1 photo if > 0)",
    )
    parser.add_argument(
        "--projection",
        choices=("auto", "panorama", "flat"),
        default="auto",
        help="panorama: equirectangular, perspective views; flat: square crops; auto: panorama if 2:1",
    )
    parser.add_argument("--fov", type=float, nargs=2, default=(60.0, 90.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--pitch", type=float, nargs=2, default=(-20.0, 20.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--zoom", type=float, nargs=2, default=(1.0, 2.0), metavar=("LOW", "HIGH"))
    parser.add_argument("--no-noise", action="store_true", help="render noise-free stacks")
    parser.add_argument("--preview", type=Path, help="also write a contact sheet PNG of a few scenes here")
    parser.add_argument("--overwrite", action="store_true", help="write into an existing dataset root")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 = at least one scene written, all sources read)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.crops_per_image < 1 or args.size < 16:
        parser.error("--crops-per-image must be >= 1 and --size >= 16")
    if not 0 <= args.val_fraction < 1:
        parser.error("--val-fraction must be in [0, 1)")
    sources = find_sources(args.src_dir)
    if not sources:
        parser.error(f"no {' / '.join(HDR_EXTENSIONS)} files in {args.src_dir}")
    if ldr_folder(args.out_root, "train").exists() and not args.overwrite:
        parser.error(f"{args.out_root} already holds a dataset; pass --overwrite to write into it")

    held_out = held_out_sources(len(sources), args.val_fraction, args.seed)
    sampling = ViewSampling(
        fov=tuple(args.fov), pitch=tuple(args.pitch), zoom=tuple(args.zoom), noise=not args.no_noise
    )
    emor = EMoR.load()
    manifest = {"arguments": {k: str(v) for k, v in vars(args).items()}, "scenes": {}}
    preview: list[tuple[str, np.ndarray, np.ndarray]] = []
    failures = 0
    names = scene_stems(sources)
    with tqdm(total=len(sources) * args.crops_per_image, unit="scene", desc="make-dataset") as progress:
        for index, (source, stem) in enumerate(zip(sources, names)):
            try:
                image = repair_hdr(read_hdr(source))
            except ImageIOError as error:
                tqdm.write(f"warning: skipping {source}: {error}", file=sys.stderr)
                failures += 1
                progress.update(args.crops_per_image)
                continue
            split = "test" if index in held_out else "train"
            panorama = is_panorama(image, args.projection)
            rng = np.random.default_rng([args.seed, index])
            for crop in range(args.crops_per_image):
                scene = f"{stem}_{crop:03d}"
                stack, hdr = render_random_view(image, emor, rng, args.size, panorama, sampling)
                write_scene(args.out_root, split, scene, stack, hdr)
                manifest["scenes"][scene] = {"split": split, "source": str(source), "panorama": panorama}
                if len(preview) < _PREVIEW_ROWS and crop == 0:
                    preview.append((scene, stack, hdr))
                progress.update()
    if not manifest["scenes"]:
        print(f"error: no source photo in {args.src_dir} could be read", file=sys.stderr)
        return 1
    (args.out_root / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2))
    if args.preview is not None and preview:
        labels, stacks, hdrs = zip(*preview)
        save_contact_sheet(args.preview, stacks, hdrs, names=labels)
        print(f"preview: {args.preview}")
    print(f"wrote {len(manifest['scenes'])} scenes from {len(sources) - failures} photos to {args.out_root}")
    return 1 if failures else 0


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
