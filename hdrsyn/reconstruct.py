"""``hdrsyn reconstruct``: single photos -> generated exposure stack -> HDR radiance, with the packaged model
or a trained checkpoint.

The command line only: reading the photos, running the model and writing the files is
:mod:`hdrsyn.inference` (which describes the outputs).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from hdrsyn.inference import collect_inputs, reconstruct_files
from hdrsyn.model_registry import load_reconstructor
from hdrsyn.pretrained import pretrained_path
from hdrsyn.tiling import check_tiling


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn reconstruct IMAGE|FOLDER... [--ckpt CKPT] -o OUTDIR``; 0 if every file succeeded, 1 if any failed."""
    parser = argparse.ArgumentParser(prog="hdrsyn reconstruct", description=__doc__.splitlines()[0])
    parser.add_argument("inputs", nargs="+", type=Path, help="JPEG/PNG/TIFF photos or folders of them")
    parser.add_argument("--ckpt", type=Path, default=None,
                        help="checkpoint of the joint stage (or of a registered model, or a packaged model file); "
                             "default: the packaged model (hdrsyn/assets/models/MODEL.md)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder")
    parser.add_argument("--hdr-format", choices=("exr", "hdr", "both"), default="exr", help="HDR file type(s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--tile", type=int, default=None,
                        help="process images larger than this in tiles of this size (a multiple of 32); "
                             "default: the whole image at once")
    parser.add_argument("--overlap", type=int, default=128, help="tile overlap in pixels (multiple of 32)")
    parser.add_argument("--work-size", type=int, default=None,
                        help="run a stack model on the photo downscaled to this longer side and add its "
                             "corrections to the full-resolution analytic stack (default: full resolution)")
    parser.add_argument("--model-class", default=None,
                        help="LightningModule class path, for checkpoints that do not store it")
    args = parser.parse_args(argv)
    try:
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError(f"--device {args.device}: no CUDA device is available")
        ckpt = args.ckpt
        if ckpt is None:
            ckpt = pretrained_path()
            print(f"hdrsyn reconstruct: using the packaged model {ckpt}", file=sys.stderr)
        model = load_reconstructor(ckpt, device, args.model_class)
        if args.tile is not None:
            check_tiling(args.tile, args.overlap, model.size_multiple)
        if args.work_size is not None and args.work_size < model.size_multiple:
            raise ValueError(f"--work-size must be at least {model.size_multiple}, got {args.work_size}")
        files = collect_inputs(args.inputs)
        if not files:
            raise ValueError(f"no input images found in {', '.join(map(str, args.inputs))}")
    except (RuntimeError, ValueError) as error:  # CheckpointError is a ValueError
        print(f"hdrsyn reconstruct: error: {error}", file=sys.stderr)
        return 2
    failures = reconstruct_files(files, model, args.output, args.hdr_format, args.overwrite, device, args.tile,
                                 args.overlap, args.work_size)
    if failures:
        print(f"hdrsyn reconstruct: {len(failures)} of {len(files)} file(s) failed", file=sys.stderr)
        return 1
    return 0
