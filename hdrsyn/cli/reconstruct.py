"""``hdrsyn reconstruct``: single photos -> generated exposure stack -> HDR radiance, with the packaged model
or a trained checkpoint.

The command line only: reading the photos, running the model and writing the files is
:mod:`hdrsyn.inference` (which describes the outputs), the memory plan :mod:`hdrsyn.memory`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import torch

from hdrsyn.errors import ArgumentParser, UsageError
from hdrsyn.inference import RunOptions, Summary, check_output_folder, collect_inputs, plan_outputs, reconstruct_files
from hdrsyn.io import LDR_EXTENSIONS
from hdrsyn.memory import AUTO_WORK_SIZE, DEFAULT_MAX_MEMORY, GB
from hdrsyn.model_registry import load_reconstructor
from hdrsyn.pretrained import pretrained_path
from hdrsyn.tiling import check_tiling

PROG = "hdrsyn reconstruct"
EPILOG = f"""\
inputs and outputs:
  A folder contributes its photos, files of the types {' '.join(LDR_EXTENSIONS)},
  not its subfolders, hidden files, or files named like the outputs of another photo in it
  (<stem>_ev+1.png, <stem>_crf.png, <stem>_preview.png, <stem>_uhdr.jpg, <stem>_viewer.html next
  to <stem>.jpg); each skipped file is
  named. Name such a file (e.g. a real +1 EV bracket) to reconstruct it. The output folder may not
  be a folder given as input, and no output may replace an input (refused before anything runs, --overwrite
  or not).
  Photos whose outputs all exist are skipped, so a run stopped by Ctrl-C continues where it
  stopped; each photo's files are written all or none.
memory:
  Each photo is planned to fit --max-memory: the whole photo at full resolution if it fits, else the
  network at the largest --work-size up to {AUTO_WORK_SIZE} that fits, with the full-resolution
  stack built and merged in row strips if need be; a plan that changes the options given is said.
  Options that cannot fit are refused, naming the flag to change.
exit status: 0 all done (or skipped), 1 some photo failed, 2 usage error, 130 interrupted."""


def _positive(kind: type) -> Callable[[str], int | float]:
    """An argparse type: a positive ``kind`` (int or float)."""

    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
        return value

    return parse


def parser() -> argparse.ArgumentParser:
    """The command line of ``hdrsyn reconstruct``."""
    parser = ArgumentParser(prog=PROG, description=__doc__.splitlines()[0], epilog=EPILOG,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("inputs", nargs="+", type=Path, help="photos or folders of them")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--ckpt", type=Path, default=None,
                       help="checkpoint of the joint stage (or of a registered model, or a packaged model file); "
                            "default: the packaged model (hdrsyn/assets/models/MODEL.md)")
    which.add_argument("--model", default=None, metavar="NAME",
                       help="a packaged model by name (hdrsyn/assets/models/models.json), e.g. an earlier default")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output folder (not a folder given as input)")
    parser.add_argument("--hdr-format", choices=("exr", "hdr", "both"), default="exr", help="HDR file type(s)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing outputs (never an input)")
    parser.add_argument("--no-uhdr", action="store_true",
                        help="do not write <stem>_uhdr.jpg, the preview with a gain map (Ultra HDR) that HDR "
                             "displays, Chrome and phone galleries show with up to 4 stops over SDR white")
    parser.add_argument("--no-viewer", action="store_true",
                        help="do not write <stem>_viewer.html, the self-contained viewer (exposure slider, "
                             "tone maps, the generated stack and the response curve)")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device, e.g. cpu, cuda, cuda:1 (default: cuda if available)")
    parser.add_argument("--tile", type=_positive(int), default=None,
                        help="run the network in tiles of this size (a multiple of 32) on larger images; "
                             "default: the whole image at once")
    parser.add_argument("--overlap", type=int, default=128, help="tile overlap in pixels (multiple of 32)")
    parser.add_argument("--work-size", type=_positive(int), default=None,
                        help="run a stack model on the photo downscaled to this longer side and add its "
                             "corrections to the full-resolution analytic stack (default: full resolution "
                             f"if it fits --max-memory, else the largest size up to {AUTO_WORK_SIZE} that fits)")
    parser.add_argument("--max-memory", type=_positive(float), default=DEFAULT_MAX_MEMORY / GB, metavar="GB",
                        help="working memory one photo may take, estimated (default: %(default)g; the program "
                             "and model take about 0.5 more)")
    parser.add_argument("--model-class", default=None,
                        help="LightningModule class path, for checkpoints that do not store it")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn reconstruct IMAGE|FOLDER... [--ckpt CKPT] -o OUTDIR``; exit status as in the epilog."""
    args = parser().parse_args(argv)
    try:
        check_output_folder(args.output, args.inputs)
        inputs = collect_inputs(args.inputs)
        for note in inputs.notes:
            print(f"{PROG}: {note}", file=sys.stderr)
        if not inputs.files:
            raise UsageError(f"no photos found in {', '.join(map(str, args.inputs))}")
        device = torch.device(args.device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise UsageError(f"--device {args.device}: no CUDA device is available")
        ckpt = args.ckpt
        if ckpt is None:
            ckpt = pretrained_path(args.model)
            print(f"{PROG}: using the packaged model {ckpt}", file=sys.stderr)
        model = load_reconstructor(ckpt, device, args.model_class)
        if args.tile is not None:
            check_tiling(args.tile, args.overlap, model.size_multiple)
        if args.work_size is not None and args.work_size < model.size_multiple:
            raise UsageError(f"--work-size must be at least {model.size_multiple}, got {args.work_size}")
        outputs = plan_outputs(inputs.files, model, args.output, args.hdr_format, not args.no_uhdr,
                               not args.no_viewer)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted before any photo was done", file=sys.stderr)
        return 130
    except (RuntimeError, ValueError, OSError) as error:  # CheckpointError is a ValueError
        print(f"{PROG}: error: {' '.join(str(error).split())}", file=sys.stderr)
        return 2
    options = RunOptions(device, args.tile, args.overlap, args.work_size, args.max_memory * GB)
    summary = reconstruct_files(outputs, model, args.overwrite, options)
    return report(summary)


def report(summary: Summary) -> int:
    """Print how the run ended (one line, if not all went well) and return the exit status."""
    finished = len(summary.done) + len(summary.skipped)
    if summary.interrupted:
        print(f"{PROG}: interrupted; {finished} of {summary.total} done, re-run to continue", file=sys.stderr)
        return 130
    if summary.stopped:
        print(f"{PROG}: stopped after {finished} of {summary.total} done: {summary.stopped}; free space and "
              f"re-run to continue", file=sys.stderr)
        return 1
    if summary.failures:
        print(f"{PROG}: {len(summary.failures)} of {summary.total} file(s) failed", file=sys.stderr)
        return 1
    return 0
