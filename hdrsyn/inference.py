"""Reconstruction of single photos, the library under ``hdrsyn reconstruct``: photo -> generated exposure
stack -> HDR radiance with a :class:`~hdrsyn.model_registry.Reconstructor`, and the files it writes.

Per input ``<stem>.<ext>`` the output folder receives ``<stem>.exr`` (and/or ``<stem>.hdr``), one PNG per
generated exposure ``<stem>_ev-3.png`` .. ``<stem>_ev+3.png`` (EV 0 is the input), the recovered response
``<stem>_crf.png`` and a Reinhard tone-mapped preview ``<stem>_preview.png``. Models that predict radiance
directly (no stack) write only the HDR file and the preview.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from hdrsyn.io import LDR_EXTENSIONS, output_group, read_ldr, write_hdr, write_ldr
from hdrsyn.model_registry import Reconstructor
from hdrsyn.plots import plot_response
from hdrsyn.tiling import run_tiled
from ops.crf import hat_weights
from ops.exposure import exposure_stack
from ops.hdr_synthesis import MIN_COVERAGE, synthesize_hdr
from ops.tonemap import gamma_encode, reinhard_global

HDRFormat = Literal["exr", "hdr", "both"]


@torch.inference_mode()
def reconstruct_image(
    model: Reconstructor,
    ldr: torch.Tensor,
    tile: int | None = None,
    overlap: int = 128,
    progress: bool = False,
    work_size: int | None = None,
) -> dict[str, torch.Tensor]:
    """Reconstruct the HDR image of one LDR image ``(3, H, W)`` in [0, 1] of any size, on ``ldr``'s device.

    The network runs on the reflect-padded image, or on ``tile``-sized tiles overlapping by ``overlap``
    when the padded image is larger than ``tile`` (see :func:`hdrsyn.tiling.run_tiled`); a generated stack
    is merged once, at full resolution, by :func:`ops.hdr_synthesis.synthesize_hdr`.

    With ``work_size``, a stack model whose input's longer side exceeds it runs on the image downscaled to
    that side (:func:`guided_stack`): what it adds to the analytic exposure stack is upsampled onto the
    full-resolution analytic stack, so the network's cost no longer grows with the photo's size (on 512-px
    views of the held-out scenes, ``work_size=256`` scored 0.04 dB PU21-PSNR below the full-size run in a
    quarter of the time; ``bench/work_size.py``). Radiance models ignore it.

    Returns:
        ``radiance`` ``(3, H, W)`` linear; ``preview`` ``(3, H, W)`` tone-mapped, gamma-encoded, in [0, 1];
        for stack models also ``stack`` ``(N, 3, H, W)`` in [0, 1], ``ev`` ``(N,)`` and ``inverse_crf``
        ``(3, 256)``.
    """
    if ldr.dim() != 3 or ldr.shape[0] != 3 or not ldr.is_floating_point():
        raise ValueError(f"ldr must be a float (3, H, W) image, got {ldr.dtype} {tuple(ldr.shape)}")
    low, high = torch.aminmax(ldr)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"ldr values must lie in [0, 1], got [{float(low):.4g}, {float(high):.4g}]")
    if float(hat_weights(ldr).ge(0.1).float().mean()) < MIN_COVERAGE:
        raise ValueError("the photo is black or clipped almost everywhere (no values within 5-95 % of full scale): "
                         "nothing to reconstruct")
    if model.output == "stack" and work_size is not None and max(ldr.shape[-2:]) > work_size:
        out = guided_stack(model, ldr, work_size, tile, overlap, progress)
    else:
        out = run_tiled(model.network, ldr[None], model.size_multiple, tile, overlap, progress)[0]
    if not bool(torch.isfinite(out).all()):
        raise ValueError(f"the network ({model.class_path or 'model'}) produced NaN or Inf; is the checkpoint damaged?")
    if model.output == "stack":
        stack = out.clamp(0, 1)
        ev = torch.tensor(model.evs, dtype=stack.dtype, device=stack.device)
        radiance, inverse_crf = synthesize_hdr(
            stack[None], torch.exp2(ev)[None], model.sampling, smoothness=model.smoothness
        )
        result = {"stack": stack, "ev": ev, "radiance": radiance[0], "inverse_crf": inverse_crf[0]}
    else:
        result = {"radiance": out.clamp_min(0)}
    result["preview"] = gamma_encode(reinhard_global(result["radiance"][None]))[0]
    return result


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
    h, w = ldr.shape[-2:]
    scale = work_size / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    small = F.interpolate(ldr[None], size=size, mode="area").clamp(0, 1)
    generated = run_tiled(model.network, small, model.size_multiple, tile, overlap, progress)[0]
    correction = generated - exposure_stack(small, model.evs)[0]
    correction = F.interpolate(correction, size=(h, w), mode="bilinear", align_corners=False)
    return (exposure_stack(ldr[None], model.evs)[0] + correction).clamp(0, 1)


def output_paths(stem: str, folder: Path, model: Reconstructor, hdr_format: HDRFormat = "exr") -> dict[str, Path]:
    """Where :func:`write_outputs` puts the results for input ``stem``, keyed by kind."""
    paths = {kind: folder / f"{stem}.{kind}" for kind in ("exr", "hdr") if hdr_format in (kind, "both")}
    if model.output == "stack":
        paths.update({f"ev{ev:+g}": folder / f"{stem}_ev{ev:+g}.png" for ev in model.evs})
        paths["crf"] = folder / f"{stem}_crf.png"
    paths["preview"] = folder / f"{stem}_preview.png"
    return paths


def write_outputs(result: dict[str, torch.Tensor], paths: dict[str, Path], overwrite: bool = False) -> None:
    """Write :func:`reconstruct_image`'s ``result`` to ``paths`` (from :func:`output_paths`), all or nothing.

    The files are committed together (:func:`hdrsyn.io.output_group`): a failure leaves none of them, and
    a concurrent run writing the same names either commits its whole group first (then this one raises
    ``FileExistsError`` unless ``overwrite``) or after this one.
    """
    radiance = result["radiance"].permute(1, 2, 0).float().cpu().numpy()
    with output_group(paths.values(), overwrite) as staged:
        for kind in ("exr", "hdr"):
            if kind in paths:
                write_hdr(staged[paths[kind]], radiance, precision="float")
        if "stack" in result:
            for ev, image in zip(result["ev"].tolist(), result["stack"]):
                write_ldr(staged[paths[f"ev{ev:+g}"]], image.permute(1, 2, 0).float().cpu().numpy())
            plot_response(result["inverse_crf"].float().cpu().numpy(), staged[paths["crf"]])
        write_ldr(staged[paths["preview"]], result["preview"].permute(1, 2, 0).float().cpu().numpy())


def collect_inputs(sources: Sequence[Path]) -> list[Path]:
    """Image files named in ``sources``; a folder contributes its LDR images (not recursive), sorted."""
    files = []
    for source in sources:
        if source.is_dir():
            files.extend(sorted(p for p in source.iterdir() if p.is_file() and p.suffix.lower() in LDR_EXTENSIONS))
        else:
            files.append(source)
    return files


def reconstruct_files(
    files: Sequence[Path],
    model: Reconstructor,
    folder: Path,
    hdr_format: HDRFormat = "exr",
    overwrite: bool = False,
    device: str | torch.device = "cpu",
    tile: int | None = None,
    overlap: int = 128,
    work_size: int | None = None,
) -> dict[Path, str]:
    """Reconstruct and write every file; returns the failures (file -> reason). One failure does not stop the rest."""
    failures: dict[Path, str] = {}
    stems: dict[str, Path] = {}
    bar = tqdm(files, desc="reconstruct", unit="image")
    for path in bar:
        bar.set_postfix_str(path.name)
        try:
            if path.stem in stems:
                raise ValueError(f"its outputs would have the same names as those of {stems[path.stem]}")
            stems[path.stem] = path
            paths = output_paths(path.stem, folder, model, hdr_format)
            existing = [str(p) for p in paths.values() if p.exists()]
            if existing and not overwrite:
                raise FileExistsError(f"refusing to overwrite {', '.join(existing)} (use --overwrite)")
            ldr = torch.from_numpy(read_ldr(path)).permute(2, 0, 1).to(device)
            write_outputs(reconstruct_image(model, ldr, tile, overlap, True, work_size), paths, overwrite)
        except Exception as error:  # noqa: BLE001 - report and go on with the other files
            failures[path] = f"{type(error).__name__}: {error}"
            tqdm.write(f"hdrsyn reconstruct: {path}: {failures[path]}", file=sys.stderr)
        else:
            tqdm.write(f"{path} -> {paths[next(iter(paths))]}")
    return failures
