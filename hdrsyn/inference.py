"""Reconstruction of single photos, the library under ``hdrsyn reconstruct``: photo -> generated exposure
stack -> HDR radiance with a :class:`~hdrsyn.model_registry.Reconstructor`, and the files it writes.

Per input ``<stem>.<ext>`` the output folder receives ``<stem>.exr`` (and/or ``<stem>.hdr``), one PNG per
generated exposure ``<stem>_ev-3.png`` .. ``<stem>_ev+3.png`` (EV 0 is the input), the recovered response
``<stem>_crf.png``, a Reinhard tone-mapped preview ``<stem>_preview.png``, the same preview with a gain map
for HDR displays ``<stem>_uhdr.jpg`` (Ultra HDR, :mod:`hdrsyn.gainmap`) and a self-contained HTML viewer
``<stem>_viewer.html`` (exposure slider, tone maps, the stack and the response; :mod:`hdrsyn.viewer`). Models
that predict radiance directly (no stack) write no stack and no response. Radiance is linear, in sRGB /
Rec. 709 primaries (recorded in the ``.exr``): a photo with another colour profile is converted on reading.

Inputs and outputs never meet:

* a folder contributes its files of every type :func:`hdrsyn.io.read_ldr` reads, not its subfolders,
  hidden files, or files named like the outputs of another photo in it (``<stem>_ev+1.png``,
  ``<stem>_crf.png``, ``<stem>_preview.png`` next to ``<stem>.<ext>``: a real bracket is reconstructed
  when named explicitly); every file skipped is named with the reason (:func:`collect_inputs`);
* the output folder may not be an input folder, and no output may be an input or another input's output
  (:func:`check_output_folder`, :func:`plan_outputs`); a photo named twice (or through a link) runs once.

A photo whose outputs all exist is skipped (a run interrupted by Ctrl-C continues where it stopped); some
of them existing is an error unless ``overwrite``, which replaces only files an earlier run wrote and nobody
changed since (the folder's ``.hdrsyn-outputs`` ledger, :func:`foreign_files`): a photo of the user's named
like an output (a real ``scene_ev+1.png``) is never replaced. Each photo's files are committed together, so a failure
or an interruption leaves none of them; a full disk stops the run (:func:`reconstruct_files`).

Large photos stay within a memory budget (:mod:`hdrsyn.memory`): the network runs at a work size and the
full-resolution stack is built, merged and previewed in row strips (``strip_rows`` of
:func:`reconstruct_image`), close to the whole-image result (``tests/hdrsyn/test_inference.py``).
"""

from __future__ import annotations

import errno
import math
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hdrsyn.errors import UsageError, find_cause
from hdrsyn.gainmap import write_ultrahdr
from hdrsyn.io import LDR_EXTENSIONS, output_group, read_ldr, read_ldr_info, write_hdr, write_ldr
from hdrsyn.ledger import check_replaceable, record_outputs
from hdrsyn.memory import DEFAULT_MAX_MEMORY, GB, plan_reconstruction
from hdrsyn.model_registry import Reconstructor
from hdrsyn.plots import plot_response
from hdrsyn.tiling import check_tiling, run_tiled
from hdrsyn.viewer import write_photo_page
from ops.crf import grossberg_quantiles, hat_weights, level_histograms, quantize, solve_debevec, spatial_grid
from ops.exposure import exposure_stack
from ops.hdr_synthesis import DEFAULT_SAMPLES, MIN_COVERAGE, check_smoothness, coverage, synthesize_hdr
from ops.merge import merge_log_radiance
from ops.tonemap import gamma_encode, luminance, reinhard_global

HDRFormat = Literal["exr", "hdr", "both"]
#: The name of an output of photo ``<stem>``, without extension: ``<stem>_ev+1``, ``<stem>_crf``, ``<stem>_preview``.
OUTPUT_NAME = re.compile(r"^(?P<stem>.+)_(?:ev[+-]\d+(?:\.\d+)?|crf|preview|uhdr|viewer)$")
#: :func:`ops.tonemap.reinhard_global`'s defaults, which the previews use.
REINHARD_KEY, REINHARD_EPS = 0.18, 1e-6

Rows = Callable[[int, int], torch.Tensor]


def check_ldr(model: Reconstructor, ldr: torch.Tensor) -> None:
    """Raise ``TypeError`` / ``ValueError`` unless ``ldr`` is a float ``(3, H, W)`` image in [0, 1] with pixels."""
    if not isinstance(model, Reconstructor):
        raise TypeError(f"model must be a Reconstructor (hdrsyn.model_registry.load_reconstructor), got "
                        f"{type(model).__name__}")
    if not isinstance(ldr, torch.Tensor):
        raise TypeError(f"ldr must be a torch.Tensor, got {type(ldr).__name__}")
    if not ldr.is_floating_point():
        raise TypeError(f"ldr must be a float tensor in [0, 1], got {ldr.dtype} (divide 8-bit levels by 255)")
    if ldr.dim() != 3 or ldr.shape[0] != 3:
        raise ValueError(f"ldr must be a float (3, H, W) image, got {ldr.dtype} {tuple(ldr.shape)}")
    if ldr.numel() == 0:
        raise ValueError(f"ldr is empty (shape {tuple(ldr.shape)}): a zero-size image")
    low, high = torch.aminmax(ldr)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"ldr values must lie in [0, 1], got [{float(low):.4g}, {float(high):.4g}]")


def _check_positive(name: str, value: int | None) -> None:
    """Raise ``ValueError`` unless ``value`` is None or a positive integer."""
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")


@torch.inference_mode()
def reconstruct_image(
    model: Reconstructor,
    ldr: torch.Tensor,
    tile: int | None = None,
    overlap: int = 128,
    progress: bool = False,
    work_size: int | None = None,
    strip_rows: int | None = None,
) -> dict[str, torch.Tensor]:
    """Reconstruct the HDR image of one LDR image ``(3, H, W)`` in [0, 1] of any size, on ``ldr``'s device.

    The network runs on the reflect-padded image, or on ``tile``-sized tiles overlapping by ``overlap``
    when the padded image is larger than ``tile`` (see :func:`hdrsyn.tiling.run_tiled`); a generated stack
    is merged once, at full resolution, by :func:`ops.hdr_synthesis.synthesize_hdr`.

    With ``work_size``, a stack model whose input's longer side exceeds it runs on the image downscaled to
    that side (:func:`guided_stack`): what it adds to the analytic exposure stack is upsampled onto the
    full-resolution analytic stack, so the network's cost no longer grows with the photo's size (on 512-px
    views of the held-out scenes, ``work_size=256`` scored 0.04 dB PU21-PSNR below the full-size run in a
    quarter of the time; ``bench/studies/work_size.py``). Radiance models ignore it.

    With ``strip_rows``, a stack model's full-resolution stack is built, its response recovered (from the
    same samples) and merged ``strip_rows`` rows at a time, and ``stack`` and ``preview`` come back as the
    8-bit images written to disk: no float stack of the whole photo exists (:mod:`hdrsyn.memory`).

    Returns:
        ``radiance`` ``(3, H, W)`` linear; ``preview`` ``(3, H, W)`` tone-mapped, gamma-encoded, in [0, 1]
        (uint8 with ``strip_rows``); for stack models also ``stack`` ``(N, 3, H, W)`` in [0, 1] (uint8
        with ``strip_rows``), ``ev`` ``(N,)`` and ``inverse_crf`` ``(3, 256)``.

    Raises:
        TypeError: ``ldr`` is not a float tensor (or ``model`` not a Reconstructor).
        ValueError: a wrong shape, an empty image, values outside [0, 1], a black or clipped photo, bad
            ``tile`` / ``overlap`` / ``work_size`` / ``strip_rows``, or a network producing NaN.

    Example:
        >>> import torch
        >>> from hdrsyn.model_registry import Reconstructor
        >>> identity = Reconstructor(torch.nn.Identity(), "radiance")
        >>> reconstruct_image(identity, torch.full((3, 4, 5), 0.5))["radiance"].shape
        torch.Size([3, 4, 5])
        >>> reconstruct_image(identity, torch.zeros(3, 0, 5))
        Traceback (most recent call last):
        ...
        ValueError: ldr is empty (shape (3, 0, 5)): a zero-size image
    """
    check_ldr(model, ldr)
    _check_positive("work_size", work_size)
    _check_positive("strip_rows", strip_rows)
    if tile is not None:
        check_tiling(tile, overlap, model.size_multiple)
    if float(hat_weights(ldr).ge(0.1).float().mean()) < MIN_COVERAGE:
        raise ValueError("the photo is black or clipped almost everywhere (no values within 5-95 % of full scale): "
                         "nothing to reconstruct")
    h, w = ldr.shape[-2:]
    guided = model.output == "stack" and work_size is not None and max(h, w) > work_size
    if guided:
        correction = _finite(guided_correction(model, ldr, work_size, tile, overlap, progress), model)
        rows: Rows = lambda start, stop: _guided(ldr, correction, model.evs, start, stop)  # noqa: E731
    else:
        out = _finite(run_tiled(model.network, ldr[None], model.size_multiple, tile, overlap, progress)[0], model)
        if model.output == "radiance":
            radiance = out.clamp_min(0)
            return {"radiance": radiance, "preview": gamma_encode(reinhard_global(radiance[None]))[0]}
        rows = lambda start, stop: out[..., start:stop, :].clamp(0, 1)  # noqa: E731
    if strip_rows is not None:
        return reconstruct_in_strips(model, rows, h, w, strip_rows, progress)
    stack = _guided(ldr, correction, model.evs) if guided else rows(0, h)
    ev = torch.tensor(model.evs, dtype=stack.dtype, device=stack.device)
    radiance, inverse_crf = synthesize_hdr(stack[None], torch.exp2(ev)[None], model.sampling,
                                           smoothness=model.smoothness)
    result = {"stack": stack, "ev": ev, "radiance": radiance[0], "inverse_crf": inverse_crf[0]}
    result["preview"] = gamma_encode(reinhard_global(result["radiance"][None]))[0]
    return result


def _finite(out: torch.Tensor, model: Reconstructor) -> torch.Tensor:
    """``out``, after checking the network produced no NaN or Inf."""
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"the network ({model.class_path or 'model'}) produced NaN or Inf; is the checkpoint damaged?")
    return out


def guided_correction(
    model: Reconstructor, ldr: torch.Tensor, work_size: int, tile: int | None = None, overlap: int = 128,
    progress: bool = False,
) -> torch.Tensor:
    """``G(down(ldr)) - A(down(ldr))`` ``(N, 3, h, w)``: the network's change of the analytic stack at ``work_size``.

    ``down`` is an antialiased (area) downscale to ``work_size`` on the longer side (see :func:`guided_stack`).
    """
    h, w = ldr.shape[-2:]
    scale = work_size / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(ldr[None], size=size, mode="area").clamp(0, 1)
    generated = run_tiled(model.network, small, model.size_multiple, tile, overlap, progress)[0]
    return generated - exposure_stack(small, model.evs)[0]


def guided_stack(
    model: Reconstructor, ldr: torch.Tensor, work_size: int, tile: int | None = None, overlap: int = 128,
    progress: bool = False,
) -> torch.Tensor:
    """The stack ``(N, 3, H, W)`` of a stack model run at ``work_size`` (longer side) on ``ldr`` ``(3, H, W)``.

    ``stack = clip(A(ldr) + up(G(down(ldr)) - A(down(ldr))), 0, 1)``, with ``A`` the analytic exposure
    stack (:func:`ops.exposure.exposure_stack` at the model's EVs), ``G`` the network, ``down`` an
    antialiased (area) downscale and ``up`` a bilinear upscale: the network's corrections of the analytic
    stack (the camera's response, clipped highlights and shadows) at the working scale, the image's own
    detail at full resolution.
    """
    return _guided(ldr, guided_correction(model, ldr, work_size, tile, overlap, progress), model.evs)


def _guided(
    ldr: torch.Tensor, correction: torch.Tensor, evs: Sequence[float], start: int = 0, stop: int | None = None
) -> torch.Tensor:
    """Rows ``[start, stop)`` (default: all) of :func:`guided_stack`, from its ``correction``.

    The rows of ``ldr`` are made contiguous first (a photo read as ``(H, W, 3)`` is a channels-last view),
    so the stack's exposure planes are dense and the merge takes its compiled path (:mod:`ops.native`).
    """
    h, w = ldr.shape[-2:]
    if stop is None:
        up = F.interpolate(correction, size=(h, w), mode="bilinear", align_corners=False)
        return (exposure_stack(ldr[None].contiguous(), evs)[0] + up).clamp(0, 1)
    up = upsample_rows(correction, (h, w), start, stop)
    return (exposure_stack(ldr[None, :, start:stop].contiguous(), evs)[0] + up).clamp_(0, 1)


def upsample_rows(image: torch.Tensor, size: tuple[int, int], start: int, stop: int) -> torch.Tensor:
    """Rows ``[start, stop)`` of ``F.interpolate(image, size, mode="bilinear", align_corners=False)``.

    ``image`` is ``(B, C, h, w)``; equal to the full upscale's rows up to float rounding.

    >>> image = torch.rand(2, 3, 5, 7)
    >>> full = F.interpolate(image, size=(13, 17), mode="bilinear", align_corners=False)
    >>> torch.allclose(upsample_rows(image, (13, 17), 4, 9), full[..., 4:9, :], atol=1e-6)
    True
    """
    h = image.shape[-2]
    y = ((torch.arange(start, stop, dtype=torch.float32, device=image.device) + 0.5) * (h / size[0]) - 0.5)
    y = y.clamp_min_(0)
    top = y.long().clamp_max_(h - 1)
    bottom = (top + 1).clamp_max_(h - 1)
    frac = (y - top)[:, None]
    rows = image[..., top, :] * (1 - frac) + image[..., bottom, :] * frac
    return F.interpolate(rows, size=(stop - start, size[1]), mode="bilinear", align_corners=False)


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """8-bit levels of a [0, 1] float image, rounded as :func:`hdrsyn.io.write_ldr` rounds them."""
    return image.clamp(0, 1).mul_(255).round_().to(torch.uint8)


class _CRFSamples:
    """The CRF samples :func:`ops.hdr_synthesis.synthesize_hdr` takes from a whole stack, gathered strip by strip:
    the level histograms add up (Grossberg-Nayar sampling), the grid points are picked where they lie (spatial)."""

    def __init__(self, model: Reconstructor, height: int, width: int, device: torch.device) -> None:
        self.sampling = model.sampling
        self.counts: torch.Tensor | None = None
        if self.sampling == "spatial":
            self.rows, self.cols = (i.to(device) for i in spatial_grid(height, width, DEFAULT_SAMPLES["spatial"]))
            self.picked = torch.empty(1, len(model.evs), 3, len(self.rows), device=device)

    def add(self, strip: torch.Tensor, start: int) -> None:
        """Take the samples of the stack rows ``strip`` ``(N, 3, R, W)`` starting at row ``start``."""
        if self.sampling == "spatial":
            inside = (self.rows >= start) & (self.rows < start + strip.shape[-2])
            self.picked[0][..., inside] = strip[..., self.rows[inside] - start, self.cols[inside]]
        else:
            counts = level_histograms(strip[None])
            self.counts = counts if self.counts is None else self.counts + counts

    def levels(self) -> torch.Tensor:
        """``(1, 3, P, N)`` sample levels, as ``sample_grossberg`` / ``sample_spatial`` return them."""
        if self.sampling == "spatial":
            return quantize(self.picked).permute(0, 2, 3, 1).contiguous()
        return grossberg_quantiles(self.counts, DEFAULT_SAMPLES["grossberg"])


def inverse_crf(levels: torch.Tensor, log_times: torch.Tensor, smoothness: float) -> torch.Tensor:
    """Normalised log inverse CRF ``(B, 3, 256)`` from sample ``levels``, as
    :func:`ops.hdr_synthesis.synthesize_hdr` solves it."""
    check_smoothness(smoothness)
    if bool((coverage(levels) < MIN_COVERAGE).any()):
        warnings.warn("HDR synthesis: almost no pixel is well exposed in two or more exposures; the recovered "
                      "response and radiance are unreliable", RuntimeWarning, stacklevel=2)
    g = solve_debevec(levels, log_times, smoothness)
    return g - g[..., -1].amax(-1)[:, None, None]


def reconstruct_in_strips(
    model: Reconstructor, rows: Rows, height: int, width: int, strip_rows: int, progress: bool = False
) -> dict[str, torch.Tensor]:
    """:func:`reconstruct_image`'s result for a stack model from ``rows(start, stop)``, the float stack's rows.

    Three passes over strips of ``strip_rows`` rows: the 8-bit stack and the CRF samples; the merge with
    that CRF (:func:`ops.merge.merge_log_radiance`, per pixel) and the preview's log-average and largest
    luminance; the preview. Each strip's float stack is computed twice rather than kept.
    """
    ev = torch.tensor(model.evs, dtype=torch.float32)
    log_times = torch.exp2(ev)[None].to(torch.float64).log()
    spans = [(start, min(start + strip_rows, height)) for start in range(0, height, strip_rows)]
    first = rows(*spans[0])
    device, ev, log_times = first.device, ev.to(first.device), log_times.to(first.device)
    stack = torch.empty(len(model.evs), height, width, 3, dtype=torch.uint8, device=device)
    samples = _CRFSamples(model, height, width, device)
    for start, stop in tqdm(spans, desc="stack", unit="strip", disable=not progress, leave=False):
        strip = first if start == 0 else rows(start, stop)
        stack[:, start:stop] = to_uint8(strip).permute(0, 2, 3, 1)
        samples.add(strip, start)
    del first, strip
    log_g = inverse_crf(samples.levels(), log_times, model.smoothness)
    radiance = torch.empty(3, height, width, device=device)
    log_sum, brightest = 0.0, 0.0
    for start, stop in tqdm(spans, desc="merge", unit="strip", disable=not progress, leave=False):
        part = radiance[:, start:stop]
        part.copy_(merge_log_radiance(rows(start, stop)[None], log_g, log_times)[0].exp_())
        lum = luminance(part[None])
        log_sum += float(torch.log(lum + REINHARD_EPS).sum(dtype=torch.float64))
        brightest = max(brightest, float(lum.amax()))
    log_average = math.exp(log_sum / (height * width))
    white = max(REINHARD_KEY / log_average * brightest, REINHARD_EPS)
    preview = torch.empty(height, width, 3, dtype=torch.uint8, device=device)
    for start, stop in spans:
        preview[start:stop] = to_uint8(_reinhard(radiance[:, start:stop], log_average, white)).permute(1, 2, 0)
    return {"stack": stack.permute(0, 3, 1, 2), "ev": ev, "radiance": radiance,
            "inverse_crf": log_g[0].exp().float(), "preview": preview.permute(2, 0, 1)}


def _reinhard(hdr: torch.Tensor, log_average: float, white: float) -> torch.Tensor:
    """:func:`ops.tonemap.hdr_preview` of ``(3, R, W)`` rows, with the whole image's log-average and white."""
    lum = luminance(hdr[None])[0]
    scaled = lum * (REINHARD_KEY / log_average)
    display = scaled * (1 + scaled / white**2) / (1 + scaled)
    return gamma_encode((hdr * (display / (lum + REINHARD_EPS))).clamp(0, 1))


def output_paths(
    stem: str, folder: Path, model: Reconstructor, hdr_format: HDRFormat = "exr", uhdr: bool = True,
    viewer: bool = True,
) -> dict[str, Path]:
    """Where :func:`write_outputs` puts the results for input ``stem``, keyed by kind; ``uhdr`` / ``viewer``
    add the gain-map JPEG and the HTML viewer."""
    paths = {kind: folder / f"{stem}.{kind}" for kind in ("exr", "hdr") if hdr_format in (kind, "both")}
    if model.output == "stack":
        paths.update({f"ev{ev:+g}": folder / f"{stem}_ev{ev:+g}.png" for ev in model.evs})
        paths["crf"] = folder / f"{stem}_crf.png"
    paths["preview"] = folder / f"{stem}_preview.png"
    if uhdr:
        paths["uhdr"] = folder / f"{stem}_uhdr.jpg"
    if viewer:
        paths["viewer"] = folder / f"{stem}_viewer.html"
    return paths


def _hwc(image: torch.Tensor) -> np.ndarray:
    """``(C, H, W)`` tensor as an ``(H, W, C)`` array: float32, or uint8 as it is."""
    image = image.permute(1, 2, 0).cpu()
    return (image if image.dtype == torch.uint8 else image.float()).numpy()


def write_outputs(result: dict[str, torch.Tensor], paths: dict[str, Path], overwrite: bool = False) -> None:
    """Write :func:`reconstruct_image`'s ``result`` to ``paths`` (from :func:`output_paths`), all or nothing.

    The files are committed together (:func:`hdrsyn.io.output_group`): a failure leaves none of them, and
    a concurrent run writing the same names either commits its whole group first (then this one raises
    ``FileExistsError`` unless ``overwrite``) or after this one. A Ctrl-C during the commit takes effect
    once the group is complete. With ``overwrite``, an existing file that no run wrote (:func:`foreign_files`)
    is refused, naming it.
    """
    check_replaceable(paths.values(), overwrite)
    radiance = _hwc(result["radiance"])
    with _interrupts_held() as hold:
        _write_group(result, paths, radiance, overwrite, hold)
        record_outputs(paths.values())


def _write_group(result: dict[str, torch.Tensor], paths: dict[str, Path], radiance: np.ndarray, overwrite: bool,
                 hold: Callable[[], None]) -> None:
    """The files of :func:`write_outputs`, committed together; ``hold()`` before the commit defers Ctrl-C."""
    with output_group(paths.values(), overwrite) as staged:
        for kind in ("exr", "hdr"):
            if kind in paths:
                write_hdr(staged[paths[kind]], radiance, precision="float")
        if "stack" in result:
            for ev, image in zip(result["ev"].tolist(), result["stack"]):
                write_ldr(staged[paths[f"ev{ev:+g}"]], _hwc(image))
            plot_response(result["inverse_crf"].float().cpu().numpy(), staged[paths["crf"]])
        write_ldr(staged[paths["preview"]], _hwc(result["preview"]))
        if "uhdr" in paths:
            write_ultrahdr(staged[paths["uhdr"]], radiance, _hwc(result["preview"]))
        if "viewer" in paths:
            stack = [_hwc(image) for image in result["stack"]] if "stack" in result else []
            write_photo_page(staged[paths["viewer"]], radiance, paths["viewer"].name.removesuffix("_viewer.html"),
                             stack=stack, evs=result["ev"].tolist() if stack else [],
                             inverse_crf=result["inverse_crf"].float().cpu().numpy() if stack else None)
        hold()


@contextmanager
def _interrupts_held() -> Iterator[Callable[[], None]]:
    """Yields ``hold()``: from that call to the end of the block, a Ctrl-C waits and is raised at the end.

    In the main thread only (the only one that receives signals).
    """
    pending: list[int] = []
    previous = None

    def hold() -> None:
        nonlocal previous
        if threading.current_thread() is threading.main_thread():
            previous = signal.signal(signal.SIGINT, lambda number, frame: pending.append(number))

    try:
        yield hold
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
        if pending:
            raise KeyboardInterrupt


@dataclass
class Inputs:
    """The photos :func:`collect_inputs` found, in order, and one note per group of files it skipped."""

    files: list[Path]
    notes: list[str]


def collect_inputs(sources: Sequence[Path]) -> Inputs:
    """The photos named in ``sources``: files as given, a folder's photos (not recursive) sorted by name.

    A source that does not exist is a :class:`~hdrsyn.errors.UsageError` naming it. A file named twice (also
    through a link, or in a folder and by name) is taken once. A folder's
    subfolders, hidden files, files of other types and files named like the outputs of another photo in
    it (:data:`OUTPUT_NAME`) are skipped, with a note per reason naming them.
    """
    files: list[Path] = []
    notes: list[str] = []
    seen: dict[Path, Path] = {}
    for source in sources:
        if not source.is_dir() and not source.is_file():
            raise UsageError(f"{source}: no such file or folder")
        for path in _folder_photos(source, notes) if source.is_dir() else [source]:
            key = path.resolve()
            if key in seen:
                notes.append(f"{path}: the same file as {seen[key]}, reconstructed once")
                continue
            seen[key] = path
            files.append(path)
    return Inputs(files, notes)


def _folder_photos(folder: Path, notes: list[str]) -> list[Path]:
    """The photos of ``folder``, sorted; appends a note per group of skipped entries."""
    entries = sorted(folder.iterdir())
    stems = {p.stem for p in entries if p.suffix.lower() in LDR_EXTENSIONS}
    skipped: dict[str, list[str]] = {}
    photos = []
    for entry in entries:
        match = OUTPUT_NAME.match(entry.stem)
        if entry.name.startswith("."):
            reason = "hidden file(s)"
        elif entry.is_dir():
            reason = "subfolder(s) (folders are not searched)"
        elif entry.suffix.lower() not in LDR_EXTENSIONS:
            reason = f"file(s) of other types (photos are {' '.join(LDR_EXTENSIONS)})"
        elif match and match["stem"] in stems:
            reason = "file(s) named like the outputs of another photo here (name them to reconstruct them)"
        else:
            photos.append(entry)
            continue
        skipped.setdefault(reason, []).append(entry.name)
    for reason, names in skipped.items():
        shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
        notes.append(f"{folder}: skipping {len(names)} {reason}: {shown}")
    return photos


def check_output_folder(folder: Path, sources: Sequence[Path]) -> None:
    """Raise :class:`~hdrsyn.errors.UsageError` unless ``folder`` is or can become a writable folder that
    is none of the input folders ``sources``. Creates nothing."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"-o {folder}: exists and is not a folder")
    existing = next(p for p in (folder.absolute(), *folder.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise UsageError(f"-o {folder}: cannot create it, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"-o {folder}: {existing} is not writable")
    for source in sources:
        if source.is_dir() and folder.exists() and os.path.samefile(source, folder):
            raise UsageError(
                f"-o {folder} is the input folder {source}: outputs would mix with the photos (and replace "
                f"any named like them); choose another -o, e.g. {source / 'hdr'}"
            )


def plan_outputs(
    files: Sequence[Path], model: Reconstructor, folder: Path, hdr_format: HDRFormat = "exr", uhdr: bool = True,
    viewer: bool = True,
) -> dict[Path, dict[str, Path]]:
    """:func:`output_paths` of every input; raises :class:`~hdrsyn.errors.UsageError` naming both files if
    an output would be an input, or two inputs would write the same file."""
    inputs = {path.resolve(): path for path in files}
    owners: dict[Path, Path] = {}
    planned = {}
    for path in files:
        planned[path] = output_paths(path.stem, folder, model, hdr_format, uhdr, viewer)
        for out in planned[path].values():
            key = out.resolve()
            if key in inputs:
                raise UsageError(f"{out}, an output of {path}, would replace the input {inputs[key]}; "
                                 f"choose another -o")
            if key in owners:
                raise UsageError(f"{owners[key]} and {path} would both write {out}; reconstruct them into "
                                 f"different -o folders or rename one")
            owners[key] = path
    return planned


@dataclass
class Summary:
    """What :func:`reconstruct_files` did with ``total`` photos; ``stopped`` says why it stopped early."""

    total: int
    done: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failures: dict[Path, str] = field(default_factory=dict)
    interrupted: bool = False
    stopped: str | None = None


@dataclass(frozen=True)
class RunOptions:
    """How each photo runs: on ``device``; the network in ``tile``-sized tiles overlapping by ``overlap``
    (None: whole) at ``work_size`` (None: full resolution), as :func:`hdrsyn.memory.plan_reconstruction`
    fits them within ``max_memory`` bytes."""

    device: str | torch.device = "cpu"
    tile: int | None = None
    overlap: int = 128
    work_size: int | None = None
    max_memory: float = DEFAULT_MAX_MEMORY


def reconstruct_files(
    outputs: dict[Path, dict[str, Path]], model: Reconstructor, overwrite: bool = False,
    options: RunOptions = RunOptions(),
) -> Summary:
    """Reconstruct every photo of ``outputs`` (from :func:`plan_outputs`) and write its files.

    A photo whose outputs all exist is skipped unless ``overwrite``. One failure does not stop the rest
    (one line each on stderr), a full disk does; Ctrl-C stops the run, leaving no file of the photo it
    was on (``interrupted``). Each photo runs as :func:`reconstruct_file` runs it with ``options``.
    """
    summary = Summary(len(outputs))
    bar = tqdm(outputs.items(), desc="reconstruct", unit="image")
    for path, paths in bar:
        bar.set_postfix_str(path.name)
        try:
            if not overwrite and all(p.exists() for p in paths.values()):
                summary.skipped.append(path)
                tqdm.write(f"hdrsyn reconstruct: {path}: its outputs are already in {paths['preview'].parent}, "
                           f"skipped (--overwrite redoes them)", file=sys.stderr)
                continue
            reconstruct_file(path, paths, model, overwrite, options)
        except KeyboardInterrupt:
            summary.interrupted = True
            break
        except Exception as error:  # noqa: BLE001 - report and go on with the other files
            summary.failures[path] = _reason(error)
            tqdm.write(f"hdrsyn reconstruct: {path}: {summary.failures[path]}", file=sys.stderr)
            if _disk_full(error):
                summary.stopped = summary.failures[path]
                break
        else:
            summary.done.append(path)
            tqdm.write(f"{path} -> {next(iter(paths.values()))}")
    bar.close()
    return summary


def reconstruct_file(
    path: Path, paths: dict[str, Path], model: Reconstructor, overwrite: bool = False,
    options: RunOptions = RunOptions(),
) -> None:
    """Read, plan (:func:`hdrsyn.memory.plan_reconstruction` within ``options.max_memory``), reconstruct and
    write one photo to ``paths`` (from :func:`output_paths`); its buffers are freed on return. The plan is
    said on stderr when it differs from ``options.tile`` / ``options.work_size``."""
    device, tile, overlap, work_size, max_memory = (options.device, options.tile, options.overlap,
                                                    options.work_size, options.max_memory)
    existing = [str(p) for p in paths.values() if p.exists()]
    if existing and not overwrite:
        raise FileExistsError(f"refusing to overwrite {', '.join(existing)} (use --overwrite)")
    check_replaceable(paths.values(), overwrite)  # before the work, not after it
    ldr = torch.from_numpy(read_ldr(path)).permute(2, 0, 1).to(device)
    colour = read_ldr_info(path).note
    if colour:
        tqdm.write(f"hdrsyn reconstruct: {path}: {colour}", file=sys.stderr)
    h, w = ldr.shape[-2:]
    plan = plan_reconstruction(model, h, w, tile, work_size, max_memory, overlap)
    asked = work_size if work_size and work_size < max(h, w) else None
    if (plan.work_size, plan.tile) != (asked, tile):
        what = f"--work-size {asked}" if asked else "full resolution"
        tqdm.write(f"hdrsyn reconstruct: {path}: a {w}x{h} photo at {what} needs more than --max-memory "
                   f"{max_memory / GB:g} (GB); running at {plan.describe()}", file=sys.stderr)
    result = reconstruct_image(model, ldr, plan.tile, overlap, True, plan.work_size, plan.strip_rows)
    del ldr
    write_outputs(result, paths, overwrite)


def _reason(error: BaseException) -> str:
    """One line saying why a photo failed: the message of an error about the file, else also its type."""
    text = " ".join(str(error).split())
    if isinstance(error, MemoryError) or "can't allocate memory" in text or "not enough memory" in text:
        return f"out of memory ({text or type(error).__name__}); try a smaller --max-memory or --work-size"
    return text if isinstance(error, (OSError, ValueError)) else f"{type(error).__name__}: {text}"


def _disk_full(error: BaseException) -> bool:
    """True if ``error`` or one of its causes says the disk is full."""
    return find_cause(error, lambda current: (isinstance(current, OSError) and current.errno == errno.ENOSPC)
                      or "no space left" in str(current).lower()) is not None
