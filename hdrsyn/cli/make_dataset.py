"""``hdrsyn make-dataset``: turn a folder of HDR photos into a dataset in the VDS layout.

The scenes, the split and the layout written are described in :mod:`hdrsyn.dataset_builder`; the result is
read with ``HDRStackDataModule(dataset="vds", root=OUT_ROOT)``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from hdrsyn.dataset_builder import DatasetError, build_dataset, check_output, check_sources
from hdrsyn.errors import ArgumentParser
from hdrsyn.io import LDR_EXTENSIONS


def build_parser() -> argparse.ArgumentParser:
    parser = ArgumentParser(
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
    parser.add_argument(
        "--overwrite", action="store_true", help="replace a dataset this command made at OUT_ROOT (as a whole)"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; returns the exit status (0 = dataset written, 2 = refused, nothing written).

    Every source photo is read and checked (:func:`check_source`) before anything is written; one that cannot
    be used stops the command, naming it (a dataset silently missing photos would change its split). The
    dataset is built in a hidden sibling folder of ``out_root`` and moved into place when complete;
    ``--overwrite`` replaces a dataset made by this command (one with its manifest) as a whole, and only then.
    """
    args = build_parser().parse_args(argv)
    try:
        sources = check_arguments(args)
        written = build_dataset(args, sources)
    except (DatasetError, OSError) as error:  # OSError: ImageIOError names its file; a full disk, a locked folder
        print(f"hdrsyn make-dataset: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {written} scenes from {len(sources)} photos to {args.out_root}")
    return 0


def check_arguments(args: argparse.Namespace) -> list[Path]:
    """The source photos, after checking the arguments, the output folder and every photo's values."""
    if args.crops_per_image < 1:
        raise DatasetError(f"--crops-per-image must be >= 1, got {args.crops_per_image}")
    if args.size < 16:
        raise DatasetError(f"--size must be >= 16, got {args.size}")
    if not 0 <= args.val_fraction < 1:
        raise DatasetError(f"--val-fraction must be in [0, 1), got {args.val_fraction}")
    if not args.src_dir.is_dir():
        raise DatasetError(f"{args.src_dir} is not a folder")
    check_output(args.src_dir, args.out_root, args.overwrite)
    if args.preview is not None and args.preview.suffix.lower() not in LDR_EXTENSIONS:
        raise DatasetError(f"--preview {args.preview}: the contact sheet is an image, end it in .png or .jpg")
    if args.preview is not None and args.preview.resolve().is_relative_to(args.out_root.resolve()):
        raise DatasetError(f"--preview {args.preview} lies in the output folder, which is replaced as a whole")
    return check_sources(args.src_dir)

