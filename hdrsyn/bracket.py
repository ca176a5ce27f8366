"""Bracketed stacks: check, align and merge real exposures of one scene into an HDR file with the synthesis op
(the library of ``hdrsyn merge``, :mod:`hdrsyn.cli.merge_brackets`)."""

from __future__ import annotations

import hashlib
import math
import warnings
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from hdrsyn.io import HDR_EXTENSIONS, output_group, read_exposure_time, read_ldr_levels, write_hdr, write_ldr
from hdrsyn.ledger import check_replaceable, record_outputs
from hdrsyn.plots import plot_response
from ops.crf import DEFAULT_SMOOTHNESS, grossberg_quantiles, level_histograms
from ops.hdr_synthesis import DEFAULT_SAMPLING, MIN_COVERAGE, check_smoothness, coverage, synthesize_hdr
from ops.tonemap import hdr_preview

#: A longer exposure whose image is darker than a shorter one's by more than this (share of full scale)
#: means the exposure times do not belong to the images.
ORDER_TOLERANCE = 0.005
#: Largest ``|EV|`` taken by ``--ev`` (2**EV stays a normal float64).
MAX_EV = 1000
#: Largest displacement (pixels) of an exposure from the reference exposure that merges without a warning. The
#: estimate (:func:`measure_shifts`) is within about 0.2 px; the tripod Memorial Church stack measures <= 1.0 px.
MAX_SHIFT = 1.5
#: Smallest image side whose misalignment is measured.
MIN_MEASURED_SIDE = 16


class MergeError(ValueError):
    """A problem with the user's stack or arguments, reported without a traceback."""


class MisalignedStackWarning(UserWarning):
    """An exposure is displaced from the reference exposure by more than :data:`MAX_SHIFT` pixels."""


def check_distinct_inputs(files: Sequence[Path]) -> None:
    """Refuse a photo given twice: the same path, or one file under two paths (a link, ``./a.png`` and ``a.png``)."""
    by_file: dict[Path, Path] = {}
    for path in files:
        resolved = path.resolve()
        if resolved in by_file:
            raise MergeError(f"{by_file[resolved]} and {path} are the same file; give each exposure once")
        by_file[resolved] = path


def check_distinct_images(files: Sequence[Path], images: np.ndarray) -> None:
    """Refuse two photos with identical pixels (a copy, or one photo saved twice), unless uniform: two exposures
    can both be black or white all over, and a stack with nothing else is refused as such later."""
    by_content: dict[str, Path] = {}
    for path, image in zip(files, images):
        digest = hashlib.sha256(image.tobytes()).hexdigest()
        if digest in by_content and image.min() != image.max():
            raise MergeError(f"{by_content[digest]} and {path} have identical pixels: the same photo twice; "
                             "give each exposure once")
        by_content[digest] = path


def check_outputs(outputs: dict[str, Path], files: Sequence[Path]) -> None:
    """Refuse outputs (the HDR file, its curve or preview) that would replace one of the input photos."""
    inputs = {path.resolve(): path for path in files}
    for path in outputs.values():
        if path.resolve() in inputs:
            raise MergeError(f"output {path} is the input {inputs[path.resolve()]}; choose another -o")


def median_bitmap(image: np.ndarray) -> np.ndarray:
    """Ward's median threshold bitmap (float32 0/1) of an RGB image, cropped to even sides.

    Pixels above the image's median grey level: the same pattern in every exposure of a scene, whatever its
    brightness. The crop avoids a half-pixel bias of phase correlation on odd sides.
    """
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    grey = grey[: grey.shape[0] // 2 * 2, : grey.shape[1] // 2 * 2]
    return (grey > np.median(grey)).astype(np.float32)


def bitmap_shift(first: np.ndarray, second: np.ndarray, window: np.ndarray) -> np.ndarray:
    """``(dx, dy)`` displacement of bitmap ``second``'s content from ``first``'s by phase correlation
    (0 where either bitmap is uniform: a black or clipped exposure shows nothing to align)."""
    if first.std() == 0 or second.std() == 0:
        return np.zeros(2)
    shift, _ = cv2.phaseCorrelate(first, second, window)
    return np.asarray(shift) if np.isfinite(shift).all() else np.zeros(2)


def measure_shifts(stack: np.ndarray) -> np.ndarray:
    """``(N, 2)`` displacement ``(dx, dy)`` in pixels of each exposure's content from the reference exposure's.

    ``stack`` is ``(N, H, W, 3)`` in exposure order; the reference is the middle exposure. Neighbouring
    exposures, which share most well-exposed pixels, are compared (:func:`bitmap_shift` of their
    :func:`median_bitmap`) and the steps summed. Zero for images smaller than :data:`MIN_MEASURED_SIDE`.
    """
    if min(stack.shape[1:3]) < MIN_MEASURED_SIDE:
        return np.zeros((len(stack), 2))
    bitmaps = [median_bitmap(image) for image in stack]
    window = cv2.createHanningWindow(bitmaps[0].shape[::-1], cv2.CV_32F)
    steps = [bitmap_shift(a, b, window) for a, b in zip(bitmaps, bitmaps[1:])]
    chained = np.cumsum([np.zeros(2), *steps], axis=0)
    return chained - chained[len(stack) // 2]


def align_stack(stack: np.ndarray, shifts: np.ndarray) -> np.ndarray:
    """Translate each image by its rounded ``shifts`` onto the reference and crop to the area all of them show."""
    dx, dy = np.rint(shifts).astype(int).T
    height, width = stack.shape[1:3]
    x0, x1, y0, y1 = -dx.min(), width - dx.max(), -dy.min(), height - dy.max()
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise MergeError(f"the exposures are displaced by up to {np.abs(shifts).max():.0f} px: too far to align")
    return np.stack([image[y0 + j : y1 + j, x0 + i : x1 + i] for image, i, j in zip(stack, dx, dy)])


def warn_misaligned(files: Sequence[Path], shifts: np.ndarray) -> None:
    """A :class:`MisalignedStackWarning` for every exposure displaced by more than :data:`MAX_SHIFT` pixels."""
    reference = files[len(files) // 2]
    for path, (dx, dy) in zip(files, shifts):
        if math.hypot(dx, dy) > MAX_SHIFT:
            warnings.warn(f"{path} is displaced by ({dx:+.1f}, {dy:+.1f}) px (x, y) from {reference}; the merge "
                          "will blur and ghost: pass --align to align the stack (translation) first",
                          MisalignedStackWarning, stacklevel=3)


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
    sampling: str = DEFAULT_SAMPLING,
    smoothness: float = DEFAULT_SMOOTHNESS,
    overwrite: bool = False,
    align: bool = False,
) -> dict[str, Path]:
    """Merge ``files`` into ``output`` (.exr/.hdr) plus ``<stem>_crf.png`` and ``<stem>_preview.png``.

    ``times`` may come in any order, paired with ``files``. Refused with :class:`MergeError`: a photo given
    twice (:func:`check_distinct_inputs`), an output that is an input, times that contradict the images'
    brightness (see :func:`check_exposure_order`) and stacks with almost no well-exposed pixel. Exposures
    displaced from the middle one (:func:`measure_shifts`) raise a :class:`MisalignedStackWarning`, or with
    ``align`` are translated onto it (whole pixels) and cropped to the common area, which the output then
    has. The three files are written all or nothing (:func:`hdrsyn.io.output_group`).
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
    check_outputs(outputs, files)
    check_distinct_inputs(files)
    existing = [str(p) for p in outputs.values() if p.exists()]
    if existing and not overwrite:
        raise MergeError(f"refusing to overwrite {', '.join(existing)} (use --overwrite)")
    check_replaceable(outputs.values(), overwrite)
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
    images = load_stack(files)
    check_distinct_images(files, images)
    shifts = measure_shifts(images)
    if align:
        images = align_stack(images, shifts)
    else:
        warn_misaligned(files, shifts)
    stack = torch.from_numpy(images).permute(0, 3, 1, 2)[None]
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
    record_outputs(outputs.values())
    return outputs

