"""``hdrsyn merge``: merge a real bracketed stack into an HDR file with the synthesis op."""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from pathlib import Path

from hdrsyn.bracket import MergeError, MisalignedStackWarning, merge_files, resolve_exposure_times
from hdrsyn.errors import ArgumentParser
from ops.crf import DEFAULT_SMOOTHNESS
from ops.hdr_synthesis import DEFAULT_SAMPLES, DEFAULT_SAMPLING


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn merge IMG... -o out.exr [--times ... | --ev ...]``; returns the exit code."""
    parser = ArgumentParser(prog="hdrsyn merge", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="exposures (JPEG/PNG/TIFF), any order")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .exr or .hdr file")
    parser.add_argument("--times", type=float, nargs="+", help="exposure times in seconds, one per image")
    parser.add_argument("--ev", type=float, nargs="+", help="exposure values, one per image (time = 2**EV)")
    parser.add_argument("--sampling", choices=tuple(DEFAULT_SAMPLES), default=DEFAULT_SAMPLING)
    parser.add_argument("--smoothness", type=float, default=DEFAULT_SMOOTHNESS, help="lambda of the CRF solve (Eq. 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    parser.add_argument("--align", action="store_true",
                        help="align a hand-held stack (translation, whole pixels) and crop to the common area")
    args = parser.parse_args(argv)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", MisalignedStackWarning)
            times = resolve_exposure_times(args.images, args.times, args.ev)
            outputs = merge_files(args.images, args.output, times, args.sampling, args.smoothness, args.overwrite,
                                  args.align)
    except (MergeError, OSError) as error:  # OSError: unreadable images, an unwritable or taken output
        print(f"hdrsyn merge: error: {error}", file=sys.stderr)
        return 2
    finally:
        for warning in caught:
            print(f"hdrsyn merge: warning: {warning.message}", file=sys.stderr)
    for kind, path in outputs.items():
        print(f"wrote {kind}: {path}")
    return 0
