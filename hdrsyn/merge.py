"""``hdrsyn merge``: merge a real bracketed stack into an HDR file with the synthesis op."""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from hdrsyn.io import HDR_EXTENSIONS, output_group, read_exposure_time, read_ldr_levels, write_hdr, write_ldr
from hdrsyn.plots import plot_response
from ops.crf import grossberg_quantiles, level_histograms
from ops.hdr_synthesis import MIN_COVERAGE, check_smoothness, coverage, synthesize_hdr
from ops.tonemap import hdr_preview

#: A longer exposure whose image is darker than a shorter one's by more than this (share of full scale)
#: means the exposure times do not belong to the images.
ORDER_TOLERANCE = 0.005
#: Largest ``|EV|`` taken by ``--ev`` (2**EV stays a normal float64).
MAX_EV = 1000


class MergeError(ValueError):
    """A problem with the user's stack or arguments, reported without a traceback."""


def resolve_exposure_times(
    files: Sequence[Path], times: Sequence[float] | None, evs: Sequence[float] | None
) -> np.ndarray:
    """Exposure times in seconds (or relative) from ``--times``, ``--ev`` (2**EV) or each file's EXIF."""
    if times is not None and evs is not None:
        raise MergeError("give either --times or --ev, not both")
    for flag, given in (("--times", times), ("--ev", evs)):
        if given is None:
            continue
        if len(given) != len(files):
            raise MergeError(f"{len(files)} images but {len(given)} values for {flag}")
        if not all(math.isfinite(value) for value in given):
            raise MergeError(f"{flag} values must be finite numbers, got {list(given)}")
        if flag == "--ev" and max(abs(value) for value in given) > MAX_EV:
            raise MergeError(f"--ev values must lie within -{MAX_EV}..{MAX_EV} (time = 2**EV), got {list(given)}")
        return np.asarray(given, dtype=np.float64) if flag == "--times" else np.exp2(np.asarray(given, np.float64))
    found = []
    for path in files:
        seconds = read_exposure_time(path)
        if seconds is None:
            raise MergeError(f"{path}: no EXIF ExposureTime; pass --times or --ev")
        found.append(seconds)
    return np.asarray(found, dtype=np.float64)


def load_stack(files: Sequence[Path]) -> np.ndarray:
    """``(N, H, W, 3)`` stack: uint8 levels when every file is 8-bit, else float32 in [0, 1].

    An 8-bit stack goes through the op's table-lookup path: a quarter of a float32 stack's memory and
    faster, with the same result (within 1e-5 in log). Every image must have the first one's size.
    """
    images = [read_ldr_levels(path) for path in files]
    for path, image in zip(files, images):
        if image.shape != images[0].shape:
            raise MergeError(f"{path} is {image.shape[1]}x{image.shape[0]}, but {files[0]} is "
                             f"{images[0].shape[1]}x{images[0].shape[0]}; a stack must be aligned and one size")
    if all(image.dtype == np.uint8 for image in images):
        return np.stack(images)
    return np.stack([image.astype(np.float32) / np.iinfo(image.dtype).max for image in images])


def check_exposure_order(files: Sequence[Path], times: np.ndarray, histograms: torch.Tensor) -> None:
    """Refuse times that contradict the images: a longer exposure must not give a darker image.

    ``histograms`` are the ``(1, N, 3, 256)`` :func:`~ops.crf.level_histograms` of the stack sorted by
    ``times`` (increasing). Images are compared by their mean level; a camera response is increasing, so
    this holds pixel by pixel, clipping included.
    """
    counts = histograms[0].sum(1).to(torch.float64)  # (N, 256) over channels
    means = (counts @ torch.linspace(0, 1, 256, dtype=torch.float64) / counts.sum(-1)).tolist()
    for i in range(len(files) - 1):
        if means[i] > means[i + 1] + ORDER_TOLERANCE:
            raise MergeError(
                f"the exposure times do not match the images: {files[i]} (exposure {times[i]:g}) is brighter than "
                f"{files[i + 1]} (exposure {times[i + 1]:g}); give --times / --ev in the order of the images "
                "(a longer exposure gives a brighter image)"
            )


def merge_files(
    files: Sequence[Path],
    output: Path,
    times: np.ndarray,
    sampling: str = "grossberg",
    smoothness: float = 20.0,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Merge ``files`` into ``output`` (.exr/.hdr) plus ``<stem>_crf.png`` and ``<stem>_preview.png``.

    ``times`` may come in any order, paired with ``files``. Refused with :class:`MergeError`: times that
    contradict the images' brightness (see :func:`check_exposure_order`) and stacks with almost no
    well-exposed pixel. The three files are written all or nothing (:func:`hdrsyn.io.output_group`).
    """
    if len(files) < 2:
        raise MergeError(f"an HDR merge needs at least 2 images, got {len(files)}")
    if output.suffix.lower() not in HDR_EXTENSIONS:
        raise MergeError(f"output {output} must end in one of {HDR_EXTENSIONS}")
    outputs = {
        "hdr": output,
        "crf": output.with_name(f"{output.stem}_crf.png"),
        "preview": output.with_name(f"{output.stem}_preview.png"),
    }
    existing = [str(p) for p in outputs.values() if p.exists()]
    if existing and not overwrite:
        raise MergeError(f"refusing to overwrite {', '.join(existing)} (use --overwrite)")
    if len(times) != len(files) or not np.all(np.isfinite(times) & (times > 0)):
        raise MergeError(f"exposure times must be finite and positive, one per image, got {times.tolist()}")
    if len(set(times.tolist())) != len(times):
        raise MergeError(f"duplicate exposure times {times.tolist()}")
    try:
        check_smoothness(smoothness)
    except ValueError as error:
        raise MergeError(f"--smoothness: {error}") from None
    order = np.argsort(times)
    files, times = [files[i] for i in order], times[order]
    stack = torch.from_numpy(load_stack(files)).permute(0, 3, 1, 2)[None]
    histograms = level_histograms(stack)  # one pass for both checks
    check_exposure_order(files, times, histograms)
    if coverage(grossberg_quantiles(histograms))[0] < MIN_COVERAGE:
        raise MergeError(
            "nothing to merge: almost no pixel is well exposed (5-95 % of full scale) in two or more of the images; "
            "the stack is black, clipped, or its exposures are too far apart"
        )
    try:
        radiance, inverse_crf = synthesize_hdr(stack, torch.from_numpy(times)[None], sampling, smoothness=smoothness)
    except ValueError as error:  # e.g. a CRF system that extreme times make singular
        raise MergeError(str(error)) from None
    if not bool((torch.isfinite(radiance) & (radiance > 0)).all()):
        span = np.log2(times[-1]) - np.log2(times[0])
        raise MergeError(
            f"the merged radiance overflows a float32 HDR file: the exposure times span {span:.0f} stops for "
            f"images that differ far less; check --times / --ev"
        )
    preview = hdr_preview(radiance)[0].permute(1, 2, 0).numpy()
    with output_group(outputs.values(), overwrite) as staged:
        write_hdr(staged[outputs["hdr"]], radiance[0].permute(1, 2, 0).numpy(), precision="float")
        title = f"Response recovered from {len(files)} exposures"
        plot_response(inverse_crf[0].numpy(), staged[outputs["crf"]], title=title)
        write_ldr(staged[outputs["preview"]], preview)
    return outputs


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn merge IMG... -o out.exr [--times ... | --ev ...]``; returns the exit code."""
    parser = argparse.ArgumentParser(prog="hdrsyn merge", description=__doc__.splitlines()[0])
    parser.add_argument("images", nargs="+", type=Path, help="aligned exposures (JPEG/PNG/TIFF), any order")
    parser.add_argument("-o", "--output", type=Path, required=True, help="output .exr or .hdr file")
    parser.add_argument("--times", type=float, nargs="+", help="exposure times in seconds, one per image")
    parser.add_argument("--ev", type=float, nargs="+", help="exposure values, one per image (time = 2**EV)")
    parser.add_argument("--sampling", choices=("grossberg", "spatial"), default="grossberg")
    parser.add_argument("--smoothness", type=float, default=20.0, help="lambda of the CRF solve (Eq. 1)")
    parser.add_argument("--overwrite", action="store_true", help="replace existing output files")
    args = parser.parse_args(argv)
    try:
        times = resolve_exposure_times(args.images, args.times, args.ev)
        outputs = merge_files(args.images, args.output, times, args.sampling, args.smoothness, args.overwrite)
    except (MergeError, OSError) as error:  # OSError: unreadable images, an unwritable or taken output
        print(f"hdrsyn merge: error: {error}", file=sys.stderr)
        return 2
    for kind, path in outputs.items():
        print(f"wrote {kind}: {path}")
    return 0
