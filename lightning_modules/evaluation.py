"""What every model's validation and test share, so that one comparison table covers all of them.

- :func:`log_stack_psnr`: per-batch stack PSNR (:func:`hdrsyn.metrics.stack_psnr`) of the stages that
  only make stacks, logged with the keys of :class:`~hdrsyn.metrics.StackMetrics` (``<prefix>/psnr/ev+1``,
  ``<prefix>/psnr/up``, ...);
- :class:`HDRMetrics`: the :mod:`hdrsyn.metrics` scores of a validation or test epoch of an HDR method,
  logged as ``val/<key>`` / ``test/<key>``;
- :func:`write_test_outputs`: ``<folder>/hdr/<name>.exr``, ``<folder>/preview/<name>.png`` (Reinhard
  + gamma) and, for stack methods, ``<folder>/stack/<name>.png``;
- :func:`finish_test`: ``summary.json`` (scores, protocol, checkpoint, git commit, data fingerprint) and
  ``metrics_per_image.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torch import nn

from hdrsyn.errors import UsageError
from hdrsyn.io import atomic_write, output_group, write_hdr, write_ldr
from hdrsyn.metrics import (
    PU21PSNR,
    PU21SSIM,
    ColorVideoVDP,
    CRFCorrected,
    LogPSNR,
    MuLawPSNR,
    StackMetrics,
    cvvdp_available,
    stack_psnr,
)
from hdrsyn.metrics.base import PerImageHDRMetric
from hdrsyn.metrics.crf_correction import crf_protocol
from hdrsyn.metrics.hdr_psnr import EVAL_MU
from hdrsyn.provenance import checkpoint_record, data_fingerprint, git_state
from ops.tonemap import hdr_preview


def exposure_times(batch: dict) -> torch.Tensor:
    """Relative exposure times ``2**EV`` ``(B, N)`` of a batch, in the stack's dtype."""
    return torch.exp2(batch["ev"].to(batch["stack"].dtype))


def log_stack_psnr(module: pl.LightningModule, prefix: str, pred: torch.Tensor, target: torch.Tensor,
                   ev: torch.Tensor) -> None:
    """Log :func:`~hdrsyn.metrics.stack_psnr` of a batch of stacks ``(B, N, 3, H, W)`` (the centre is the
    input and is skipped) as ``<prefix>/psnr/ev{+-k}`` and its means over the stop-up and stop-down
    exposures as ``<prefix>/psnr/up`` / ``psnr/down``: the keys and definitions of
    :class:`~hdrsyn.metrics.StackMetrics`, averaged over images by Lightning."""
    psnr = stack_psnr(pred, target)
    evs = [int(value) for i, value in enumerate(ev[0]) if i != pred.shape[1] // 2]
    size = len(pred)
    for column, value in enumerate(evs):
        module.log(f"{prefix}/psnr/ev{value:+d}", psnr[:, column].mean(), sync_dist=True, batch_size=size)
    up = torch.tensor([value > 0 for value in evs], device=psnr.device)
    module.log(f"{prefix}/psnr/up", psnr[:, up].mean(), sync_dist=True, prog_bar=True, batch_size=size)
    module.log(f"{prefix}/psnr/down", psnr[:, ~up].mean(), sync_dist=True, batch_size=size)


def gather_lists(items: list) -> list:
    """Every rank's ``items`` concatenated in rank order under DDP (``items`` itself otherwise)."""
    if not (torch.distributed.is_available() and torch.distributed.is_initialized()):
        return list(items)
    gathered: list[list] = [[] for _ in range(torch.distributed.get_world_size())]
    torch.distributed.all_gather_object(gathered, list(items))
    return [item for part in gathered for item in part]


def output_folder(output_dir: str | Path | None, trainer: pl.Trainer) -> Path:
    """``output_dir``, or when it is None ``<default_root_dir>/test``, or ``<default_root_dir>/test_scenes`` when
    the datamodule tests the sample's test scenes (``test_split="test"``), so that those outputs do not replace
    the held-out scenes' ones."""
    if output_dir is not None:
        return Path(output_dir)
    scenes = getattr(getattr(trainer, "datamodule", None), "test_split", "val") == "test"
    return Path(trainer.default_root_dir) / ("test_scenes" if scenes else "test")


def write_test_outputs(module: pl.LightningModule, folder: Path, names: Sequence[str], radiance: torch.Tensor,
                       stack: torch.Tensor | None = None) -> None:
    """Write each item's HDR (``hdr/<name>.exr``), preview (``preview/<name>.png``) and, when ``stack``
    ``(B, N, 3, H, W)`` is given, its exposures side by side (``stack/<name>.png``). ``/`` in names
    becomes ``_``. Each item's files are written all or nothing, replacing those of an earlier pass. Under
    DDP every rank's items are gathered and only rank 0 writes."""
    if module.trainer.world_size > 1:
        radiance = module.all_gather(radiance).flatten(0, 1)
        stack = None if stack is None else module.all_gather(stack).flatten(0, 1)
        names = gather_lists([str(name) for name in names])
        if module.trainer.global_rank != 0:
            return
    previews = hdr_preview(radiance)
    for i, name in enumerate(names):
        stem = str(name).replace("/", "_")
        paths = [folder / "hdr" / f"{stem}.exr", folder / "preview" / f"{stem}.png"]
        paths += [] if stack is None else [folder / "stack" / f"{stem}.png"]
        with output_group(paths, overwrite=True) as staged:  # a test pass replaces the last one's files
            write_hdr(staged[paths[0]], radiance[i].permute(1, 2, 0).float().cpu().numpy())
            write_ldr(staged[paths[1]], previews[i].permute(1, 2, 0).float().cpu().numpy())
            if stack is not None:
                sheet = torch.cat(list(stack[i]), dim=-1)
                write_ldr(staged[paths[2]], sheet.permute(1, 2, 0).float().cpu().numpy())


def check_scorable(radiance: torch.Tensor, hdr: torch.Tensor, names: Sequence[str] = ()) -> None:
    """Raise :class:`~hdrsyn.errors.UsageError` naming the first image that cannot be scored: a reference HDR
    ``hdr`` that is all zero or has NaN / Inf values (a broken scene), or a prediction ``radiance`` with
    NaN / Inf values (a diverged model). Scores of either would be NaN or Inf."""
    for i in range(len(hdr)):
        scene = f"scene {str(names[i]) if i < len(names) else f'#{i}'!r}"
        if not torch.isfinite(hdr[i]).all():
            raise UsageError(f"{scene}: its reference HDR has NaN or Inf values, so it cannot be scored; "
                             "fix or remove the scene")
        if not (hdr[i] > 0).any():
            raise UsageError(f"{scene}: its reference HDR is all zero, so it cannot be scored; fix or remove the scene")
        if not torch.isfinite(radiance[i]).all():
            raise UsageError(f"{scene}: the model's HDR prediction has NaN or Inf values (a diverged model?), "
                             "so it cannot be scored")


def check_finite_scores(names: Sequence[str], columns: dict[str, list[float]]) -> None:
    """Raise :class:`~hdrsyn.errors.UsageError` naming the scores and scenes that are NaN or Inf (e.g. a
    reference of one flat colour), instead of reporting a NaN or Inf mean."""
    bad = {key: [name for name, value in zip(names, values) if not math.isfinite(value)]
           for key, values in columns.items()}
    bad = {key: scenes for key, scenes in bad.items() if scenes}
    if bad:
        listed = "; ".join(f"{key} of {', '.join(scenes[:5])}{', ...' if len(scenes) > 5 else ''}"
                           for key, scenes in bad.items())
        raise UsageError(f"scores that are NaN or Inf, so the test has no summary: {listed}; fix or remove "
                         "these scenes")


class HDRMetrics(nn.Module):
    """HDR scores (:mod:`hdrsyn.metrics`, default protocols) and, for stack methods, stack scores.

    ``update`` per batch; ``compute`` returns ``{"<prefix>/<key>": value}`` with the keys of
    :class:`~hdrsyn.metrics.MuLawPSNR` (``mu_psnr``: median scale alignment, maximum -> 1, mu = 5000),
    :class:`~hdrsyn.metrics.LogPSNR`, :class:`~hdrsyn.metrics.PU21PSNR`, :class:`~hdrsyn.metrics.PU21SSIM`
    (0.1 / 99.9 % -> 1..1000 cd/m²), :class:`~hdrsyn.metrics.ColorVideoVDP` (``cvvdp``, in JOD), their
    CRF-corrected versions (``crf/<key>``, :mod:`hdrsyn.metrics.crf_correction`), each with its ``_std``,
    and, once a stack was given, :class:`~hdrsyn.metrics.StackMetrics` (``psnr/ev+1``, ``ssim/up``, ...).

    Args:
        prefix: key prefix (``"val"``, ``"test"``).
        cvvdp: score ColorVideoVDP; None: when the ``cvvdp`` package is installed (0.05 s per 128-px
            image on one CPU core, twice that with ``crf_correction``).
        crf_correction: also report every HDR score after the per-image CRF correction.

    Example:
        >>> import torch
        >>> metrics = HDRMetrics("test", cvvdp=False, crf_correction=False)
        >>> ref = torch.rand(1, 3, 32, 32) + 0.01
        >>> metrics.update(2 * ref, ref)
        >>> bool(metrics.compute()["test/mu_psnr"] > 60)  # scale-aligned: a scaled copy is perfect
        True
    """

    def __init__(self, prefix: str = "test", cvvdp: bool | None = None, crf_correction: bool = True) -> None:
        super().__init__()
        if not isinstance(prefix, str) or not prefix:
            raise ValueError(f"prefix must be a non-empty string, got {prefix!r}")
        self.prefix = prefix
        self.cvvdp = cvvdp_available() if cvvdp is None else bool(cvvdp)
        self.crf_correction = crf_correction

        def hdr_metrics() -> list[PerImageHDRMetric]:
            return [MuLawPSNR(), LogPSNR(), PU21PSNR(), PU21SSIM(), *([ColorVideoVDP()] if self.cvvdp else [])]

        corrected = [CRFCorrected(metric) for metric in hdr_metrics()] if crf_correction else []
        self.hdr = nn.ModuleList([*hdr_metrics(), *corrected])
        self.stack = StackMetrics()
        self._has_stack = False
        self._updated = False
        self.names: list[str] = []

    def update(self, radiance: torch.Tensor, hdr: torch.Tensor, stack: torch.Tensor | None = None,
               target_stack: torch.Tensor | None = None, names: Sequence[str] = ()) -> None:
        """Add a batch: predicted and true HDR ``(B, 3, H, W)``, optionally predicted and true stacks and
        the scene names (for the per-image table)."""
        if stack is not None and target_stack is None:
            raise ValueError("a predicted stack needs its target_stack")
        check_scorable(radiance, hdr, names)
        self.names.extend(str(name) for name in names)
        for metric in self.hdr:
            metric.update(radiance.float(), hdr.float())
        if stack is not None:
            self.stack.update(stack.float(), target_stack.float())
            self._has_stack = True
        self._updated = True

    def compute(self) -> dict[str, torch.Tensor]:
        """The epoch's scores (synced across DDP ranks); empty before the first update."""
        if not self._updated:
            return {}
        out = {}
        for metric in [*self.hdr, *([self.stack] if self._has_stack else [])]:
            out.update({f"{self.prefix}/{key}": value for key, value in metric.compute().items()})
        return out

    def per_image(self) -> tuple[list[str], dict[str, list[float]]]:
        """Scene names and one column per score (stack scores averaged over the EVs), all ranks gathered."""
        columns = {metric.key: metric.per_image().tolist() for metric in self.hdr}
        if self._has_stack:
            columns.update({name: values.mean(1).tolist() for name, values in self.stack.per_image().items()})
        return gather_lists(self.names), columns

    def protocol(self) -> dict:
        """How the numbers were made: normalisation per metric, mu, ColorVideoVDP's display, CRF correction."""
        plain = [m for m in self.hdr if not isinstance(m, CRFCorrected)]
        cvvdp = next((m for m in plain if isinstance(m, ColorVideoVDP)), None)
        return {
            "normalization": {m.key: m.normalization.as_dict() for m in plain if m.normalization is not None},
            "mu_psnr_mu": EVAL_MU,
            "cvvdp": None if cvvdp is None else {"display": cvvdp.display, "pixels_per_degree": cvvdp.ppd},
            "crf_correction": crf_protocol() if self.crf_correction else None,
        }

    def reset(self) -> None:
        for metric in [*self.hdr, self.stack]:
            metric.reset()
        self._has_stack = False
        self._updated = False
        self.names = []


def wandb_run_record(logger: object) -> dict | None:
    """Project, group, name, job type and id of a :class:`WandbLogger`'s run (None for other loggers)."""
    if not isinstance(logger, WandbLogger):
        return None
    run = logger.experiment
    return {key: getattr(run, key, None) for key in ("project", "group", "name", "job_type", "id")}


def log_run_conventions(module: pl.LightningModule, method: str, stage: str) -> None:
    """Put ``method``, ``stage`` and ``dataset`` into the logger's run config, so runs of every method
    join on the same keys in one W&B dashboard (rank 0 only; loggers without hyperparameters ignore it)."""
    if module.logger is None or module.trainer.global_rank != 0:
        return
    datamodule = module.trainer.datamodule
    module.logger.log_hyperparams({"method": method, "stage": stage,
                                   "dataset": getattr(datamodule, "dataset", None),
                                   "image_size": getattr(datamodule, "image_size", None)})


def finish_test(module: pl.LightningModule, metrics: HDRMetrics, folder: Path, method: str) -> dict[str, float]:
    """End of a test epoch: log the scores, write ``metrics_per_image.csv`` and ``summary.json`` to ``folder``
    and, with W&B, a ``test/per_image`` table (one schema for every method). Only rank 0 writes.

    ``summary.json`` holds the scores (mean and std), the protocol (:meth:`HDRMetrics.protocol`), the
    tested checkpoint (path, its ``global_step``, sha256), the code's git commit, the data fingerprint
    and the W&B run.
    """
    names, columns = metrics.per_image()
    check_finite_scores(names, columns)
    summary = {key: float(value) for key, value in metrics.compute().items()}
    module.log_dict(summary, sync_dist=True)
    metrics.reset()
    trainer = module.trainer
    if trainer.global_rank != 0:
        return summary
    datamodule = trainer.datamodule
    checkpoint = checkpoint_record(trainer.ckpt_path)
    record = {
        "method": method,
        "run": Path(trainer.default_root_dir).name,
        "dataset": getattr(datamodule, "dataset", None),
        "image_size": getattr(datamodule, "image_size", None),
        "test_split": getattr(datamodule, "test_split", None),
        "num_images": len(names),
        "global_step": module.global_step if checkpoint is None else checkpoint["global_step"],
        "checkpoint": checkpoint,
        "git": git_state(),
        "data_fingerprint": data_fingerprint(datamodule),
        "wandb": wandb_run_record(module.logger),
        "protocol": metrics.protocol(),
        "metrics": {key.removeprefix(f"{metrics.prefix}/"): value for key, value in summary.items()},
    }
    header = ["method", "name", *columns]
    rows = [[method, name, *(columns[key][i] for key in columns)] for i, name in enumerate(names)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "metrics_per_image.csv", lambda tmp: tmp.write_text(text.getvalue()))
    atomic_write(folder / "summary.json", lambda tmp: tmp.write_text(json.dumps(record, indent=2, allow_nan=False)))
    if isinstance(module.logger, WandbLogger):
        module.logger.log_table(key="test/per_image", columns=header, data=rows)
    return summary
