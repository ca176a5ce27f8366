"""Models, inputs and scores shared by the studies (:mod:`bench.studies`).

Methods: x^2.2 and the analytic exposure stack (merged by our HDR layer) as references, and ``label=path``
models (:func:`load_methods`: a joint-stage or baseline checkpoint, a packaged model's file or name, ``packaged`` =
the default packaged model, ``label=a.ckpt+b.ckpt``: the average of the stacks of several stack models, merged
once). Inputs: ``(ldr, hdr, true_stack)`` triples, from the real bracketed photograph of Debevec's Memorial
Church (:func:`memorial_views`) or the held-out views of ``lightning test`` (:func:`held_out`,
:func:`views`). Scores (:func:`score`): PU21-PSNR, mu-PSNR and JOD of the HDR (the protocol of ``lightning
test``), stack PSNR per relative EV for stack models, seconds; :func:`table_rows` makes their table.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from bench.tables import means_table
from datamodules.sample import SampleDataset
from hdrsyn.assets_index import memorial_stack
from hdrsyn.errors import UsageError
from hdrsyn.inference import reconstruct_image
from hdrsyn.io import read_ldr
from hdrsyn.metrics import color_video_vdp, cvvdp_available, mu_law_psnr, pu21_psnr, stack_psnr
from hdrsyn.model_registry import Reconstructor, load_reconstructor
from hdrsyn.pretrained import pretrained_path, read_manifest
from hdrsyn.render import EMoR, render_stack
from ops.exposure import exposure_stack
from ops.hdr_synthesis import synthesize_hdr

EVS = (-3, -2, -1, 1, 2, 3)


def reference() -> tuple[torch.Tensor, torch.Tensor]:
    """The 16 exposures ``(16, 3, H, W)`` in [0, 1] (shortest first) and their merged HDR ``(1, 3, H, W)``."""
    files, times = memorial_stack()
    images = np.stack([np.round(read_ldr(f) * 255).astype(np.uint8) for f in files])
    stack = torch.from_numpy(images).permute(0, 3, 1, 2)
    radiance, _ = synthesize_hdr(stack[None], torch.tensor(times)[None])
    return stack.float() / 255, radiance


@torch.no_grad()
def reconstruct(method: str, model: Reconstructor | None, ldr: torch.Tensor,
                work_size: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(radiance (1, 3, H, W), stack (7, 3, H, W) or None)`` of ``method`` from one input ``ldr`` ``(3, H, W)``:
    ``x^2.2``, the ``analytic stack`` merged by our HDR layer, or ``model`` run at ``work_size``
    (:func:`hdrsyn.inference.reconstruct_image`)."""
    if method == "x^2.2":
        return ldr[None].pow(2.2), None
    if method == "analytic stack":
        stack = exposure_stack(ldr[None], [-3, -2, -1, 0, 1, 2, 3])[0]
        return synthesize_hdr(stack[None], torch.exp2(torch.arange(-3.0, 4.0))[None])[0], stack
    result = reconstruct_image(model, ldr, work_size=work_size)
    return result["radiance"][None], result.get("stack")


def score(method: str, model: Reconstructor | None, ldr: torch.Tensor, hdr: torch.Tensor,
          true_stack: torch.Tensor | None = None, work_size: int | None = None) -> dict:
    """HDR scores of ``method`` (:func:`reconstruct`) from one input ``ldr`` ``(3, H, W)``, and where it makes
    a stack and ``true_stack`` ``(7, 3, H, W)`` (EV -3..+3) is given, the stack PSNR per EV without the input;
    ``s``: seconds to reconstruct."""
    start = time.perf_counter()
    radiance, stack = reconstruct(method, model, ldr, work_size)
    out = {"s": time.perf_counter() - start, "pu21": float(pu21_psnr(radiance, hdr)),
           "mu": float(mu_law_psnr(radiance, hdr))}
    if cvvdp_available():  # the JOD of `lightning test` (same normalisation and display)
        out["jod"] = float(color_video_vdp(radiance, hdr))
    if stack is not None and true_stack is not None:
        psnr = stack_psnr(stack[None], true_stack[None])[0]
        out.update({f"ev{ev:+d}": float(value) for ev, value in zip(EVS, psnr)})
    return out


def memorial_views(inputs: list[int]) -> list[tuple[torch.Tensor, ...]]:
    """``(ldr, hdr, true_stack)`` with each exposure ``inputs[k]`` of :func:`reference` as the input."""
    images, hdr = reference()
    return [(images[i], hdr, images[i - 3 : i + 4]) for i in inputs]


class StackAverage(nn.Module):
    """The mean of several stack networks' outputs ``(B, N, 3, H, W)``: an ensemble merged once."""

    def __init__(self, networks: list[nn.Module]) -> None:
        super().__init__()
        self.networks = nn.ModuleList(networks)

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        return torch.stack([network(ldr) for network in self.networks]).mean(dim=0)


def average_of(models: list[Reconstructor]) -> Reconstructor:
    """One :class:`Reconstructor` whose stack is the mean of ``models``' stacks (same EVs), merged once."""
    first = models[0]
    for model in models:
        if model.output != "stack" or model.evs != first.evs:
            raise UsageError(f"only stack models with the same EVs can be averaged, got {model.output} {model.evs}")
    multiple = math.lcm(*(model.size_multiple for model in models))
    return dataclasses.replace(first, network=StackAverage([m.network for m in models]).eval(), size_multiple=multiple)


def model_file(spec: str) -> Path:
    """The file of a model spec: a checkpoint or package path, ``packaged`` or nothing (the default packaged
    model), or the name of a packaged model (``hdrsyn-cpu-sample-v4``: any listed in ``models.json``)."""
    if spec in ("", "packaged"):
        return pretrained_path()
    if spec in read_manifest()["models"]:
        return pretrained_path(spec)
    return Path(spec)


def load_methods(specs: list[str]) -> dict[str, Reconstructor | None]:
    """x^2.2 and the analytic stack, then each ``label=path`` model (path ``packaged`` or none: the default
    packaged model; ``path+path...``: the average of those stack models' stacks, :func:`average_of`)."""
    methods: dict[str, Reconstructor | None] = {"x^2.2": None, "analytic stack": None}
    for spec in specs:
        label, _, path = spec.partition("=")
        models = [load_reconstructor(model_file(p)) for p in path.split("+")]
        methods[label] = models[0] if len(models) == 1 else average_of(models)
    return methods


def methods_or_exit(parser: argparse.ArgumentParser, specs: list[str]) -> dict[str, Reconstructor | None]:
    """:func:`load_methods`, a model that cannot be loaded or averaged ending the bench as ``parser``'s usage
    error (its message names the file)."""
    try:
        return load_methods(specs)
    except UsageError as error:
        parser.error(str(error))


COLUMNS = {"pu21": "PU21-PSNR", "mu": "μ-PSNR", "jod": "JOD", **{f"ev{ev:+d}": f"stack EV {ev:+d}" for ev in EVS},
           "s": "s / image"}


def table_rows(table: dict[str, list[dict]], keys: list[str] | None = None) -> list[str]:
    """Markdown rows (header first) of the mean of each method's scores ``keys`` (default: all but time)."""
    return means_table(table, COLUMNS, keys or [k for k in COLUMNS if k != "s"])


MEMORIAL = "real camera (Memorial Church)"


def held_out(size: int, split: str = "val") -> SampleDataset:
    """The 24 held-out views of ``lightning test`` at ``size`` px (``split="test"``: the 48 test-scene views)."""
    return SampleDataset(split, image_size=size, views_per_scene=8, seed=0)


def views(data: SampleDataset, response: Callable[[np.ndarray], np.ndarray] | None) -> list[tuple[torch.Tensor, ...]]:
    """``(ldr, hdr, true_stack)`` of each view of ``data`` through ``response`` (None: as rendered)."""
    curve = None if response is None else response(np.clip(EMoR.load().E, 0.0, 1.0))
    return [view_tensors(stack if curve is None else render_stack(hdr, curve), hdr)
            for stack, hdr in zip(data.stacks, data.hdrs)]


def view_tensors(stack: np.ndarray, hdr: np.ndarray) -> tuple[torch.Tensor, ...]:
    """``(ldr (3, H, W), hdr (1, 3, H, W), true_stack (7, 3, H, W))`` of a uint8 stack ``(7, H, W, 3)`` (EV
    -3..+3) and its radiance ``(H, W, 3)``; the input is the stack's EV 0 image."""
    images = torch.from_numpy(stack).permute(0, 3, 1, 2).float() / 255
    return images[3], torch.from_numpy(hdr).permute(2, 0, 1)[None], images
