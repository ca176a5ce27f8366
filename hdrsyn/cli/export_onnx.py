"""``hdrsyn export``: a checkpoint's stop-up / stop-down generators as one ONNX graph, for ONNX Runtime.

The graph and its check are :mod:`hdrsyn.onnx_graph`, which describes the file.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import torch

from hdrsyn import onnx_graph
from hdrsyn.errors import ArgumentParser
from hdrsyn.io import output_group
from hdrsyn.model_registry import load_reconstructor


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn export --ckpt CKPT -o generator.onnx [--size 256]``; checks the file against PyTorch."""
    parser = ArgumentParser(prog="hdrsyn export", description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, required=True,
                        help="checkpoint of the joint stage (or of a registered model)")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .onnx file")
    parser.add_argument("--size", type=int, default=256, help="side of the image traced with (multiple of 32)")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing output file")
    parser.add_argument("--model-class", default=None, help="LightningModule class path, if the checkpoint lacks it")
    args = parser.parse_args(argv)
    try:
        if args.output.suffix.lower() != ".onnx":
            raise ValueError(f"output {args.output} must end in .onnx")
        if args.size <= 0:
            raise ValueError(f"--size must be a positive multiple of 32, got {args.size}")
        if args.output.is_dir():
            raise ValueError(f"output {args.output} is a folder; name the .onnx file to write")
        if args.output.exists() and not args.overwrite:
            raise ValueError(f"refusing to overwrite {args.output} (use --overwrite)")
        model = load_reconstructor(args.ckpt, "cpu", args.model_class)
        check = torch.rand(1, 3, args.size, args.size + model.size_multiple, generator=torch.Generator().manual_seed(1))
        with output_group([args.output], args.overwrite) as staged:  # no file unless it passes the check
            onnx_graph.export_onnx(model, staged[args.output], args.size)
            difference = onnx_graph.compare_onnx(staged[args.output], model, check)
    except (OSError, RuntimeError, ValueError) as error:
        print(f"hdrsyn export: error: {error}", file=sys.stderr)
        return 2
    print(f"wrote {args.output}; ONNX Runtime vs PyTorch on a {check.shape[-1]}x{check.shape[-2]} image: "
          f"max |difference| = {difference:.2e}")
    return 0
