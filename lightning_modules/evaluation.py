"""What every model's validation and test share, so that one comparison table covers all of them.

- :func:`log_stack_psnr`: PSNR of each generated exposure, logged as ``<prefix>/psnr_ev{+-k}`` and
  ``<prefix>/psnr_stack`` (the keys of :meth:`~lightning_modules.base.StackStage.log_stack_psnr`);
- :func:`mu_psnr`: the ``val/mu_psnr`` of :class:`~lightning_modules.joint_stage.JointStage`;
- :func:`write_test_outputs`: ``<folder>/hdr/<name>.exr``, ``<folder>/preview/<name>.png`` (Reinhard
  + gamma) and, for stack methods, ``<folder>/stack/<name>.png``;
- :class:`HDRTestMetrics`: the :mod:`hdrsyn.metrics` scores of a test epoch, logged as ``test/<key>``.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from pytorch_lightning.loggers import WandbLogger
from torch import nn
from torchmetrics.functional.image import peak_signal_noise_ratio

from hdrsyn.io import atomic_write, output_group, write_hdr, write_ldr
from hdrsyn.metrics import PU21PSNR, PU21SSIM, ColorVideoVDP, LogPSNR, MuLawPSNR, StackMetrics
from ops.tonemap import gamma_encode, mu_law, reinhard_global


def exposure_times(batch: dict) -> torch.Tensor:
    """Relative exposure times ``2**EV`` ``(B, N)`` of a batch, in the stack's dtype."""
    return torch.exp2(batch["ev"].to(batch["stack"].dtype))


def log_stack_psnr(module: pl.LightningModule, prefix: str, pred: torch.Tensor, target: torch.Tensor,
                   ev: torch.Tensor) -> None:
    """Log the PSNR of every generated exposure of ``pred`` ``(B, N, 3, H, W)`` (the centre is the input
    and is skipped) as ``<prefix>/psnr_ev{+-k}``, and their mean as ``<prefix>/psnr_stack``."""
    centre = pred.shape[1] // 2
    values = []
    for i in range(pred.shape[1]):
        if i == centre:
            continue
        psnr = peak_signal_noise_ratio(pred[:, i].clamp(0, 1), target[:, i], data_range=1.0)
        values.append(psnr)
        module.log(f"{prefix}/psnr_ev{int(ev[0, i]):+d}", psnr, sync_dist=True, batch_size=len(pred))
    module.log(f"{prefix}/psnr_stack", torch.stack(values).mean(), sync_dist=True, prog_bar=True,
               batch_size=len(pred))


def mu_psnr(radiance: torch.Tensor, hdr: torch.Tensor, mu: float = 5000.0) -> torch.Tensor:
    """PSNR of ``mu_law(x / max(x))`` between prediction and ground truth (each divided by its own maximum)."""
    def compress(x: torch.Tensor) -> torch.Tensor:
        return mu_law(x / x.amax((1, 2, 3), keepdim=True).clamp_min(1e-12), mu)

    return peak_signal_noise_ratio(compress(radiance), compress(hdr), data_range=1.0)


def hdr_preview(radiance: torch.Tensor) -> torch.Tensor:
    """Display version ``(B, 3, H, W)`` in [0, 1] of linear HDR: Reinhard's global operator, then gamma 2.2."""
    return gamma_encode(reinhard_global(radiance))


def output_folder(output_dir: str | Path | None, trainer: pl.Trainer) -> Path:
    """``output_dir``, or ``<default_root_dir>/test`` when it is None."""
    return Path(output_dir) if output_dir is not None else Path(trainer.default_root_dir) / "test"


def write_test_outputs(module: pl.LightningModule, folder: Path, names: Sequence[str], radiance: torch.Tensor,
                       stack: torch.Tensor | None = None) -> None:
    """Write each item's HDR (``hdr/<name>.exr``), preview (``preview/<name>.png``) and, when ``stack``
    ``(B, N, 3, H, W)`` is given, its exposures side by side (``stack/<name>.png``). ``/`` in names
    becomes ``_``. Each item's files are written all or nothing, replacing those of an earlier pass. Under
    DDP every rank's items are gathered and only rank 0 writes."""
    if module.trainer.world_size > 1:
        radiance = module.all_gather(radiance).flatten(0, 1)
        stack = None if stack is None else module.all_gather(stack).flatten(0, 1)
        gathered: list[list[str]] = [[] for _ in range(module.trainer.world_size)]
        torch.distributed.all_gather_object(gathered, [str(name) for name in names])
        names = [name for part in gathered for name in part]
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


class HDRTestMetrics(nn.Module):
    """HDR scores (:mod:`hdrsyn.metrics`, default protocols) and, for stack methods, stack scores.

    ``update`` per test batch; ``compute`` returns ``{"test/<key>": value}`` with the keys of
    :class:`~hdrsyn.metrics.MuLawPSNR` (``mu_psnr``: median scale alignment, maximum -> 1, mu = 5000),
    :class:`~hdrsyn.metrics.LogPSNR`, :class:`~hdrsyn.metrics.PU21PSNR` and
    :class:`~hdrsyn.metrics.PU21SSIM` (0.1 / 99.9 % -> 1..1000 cd/m²), optionally
    :class:`~hdrsyn.metrics.ColorVideoVDP` (``cvvdp``), each with its ``_std``, and of
    :class:`~hdrsyn.metrics.StackMetrics` (``psnr/ev+1``, ``ssim/up``, ...) once a stack was given.

    Args:
        mu: mu of the mu-law PSNR.
        cvvdp: also score ColorVideoVDP (needs the ``cvvdp`` package; about a second per 128-px image on CPU).
    """

    def __init__(self, mu: float = 5000.0, cvvdp: bool = False) -> None:
        super().__init__()
        hdr = [MuLawPSNR(mu), LogPSNR(), PU21PSNR(), PU21SSIM(), *([ColorVideoVDP()] if cvvdp else [])]
        self.hdr = nn.ModuleList(hdr)
        self.stack = StackMetrics()
        self._has_stack = False
        self.names: list[str] = []

    def update(self, radiance: torch.Tensor, hdr: torch.Tensor, stack: torch.Tensor | None = None,
               target_stack: torch.Tensor | None = None, names: Sequence[str] = ()) -> None:
        """Add a batch: predicted and true HDR ``(B, 3, H, W)``, optionally predicted and true stacks and
        the scene names (for the per-image table)."""
        self.names.extend(str(name) for name in names)
        for metric in self.hdr:
            metric.update(radiance.float(), hdr.float())
        if stack is not None:
            if target_stack is None:
                raise ValueError("a predicted stack needs its target_stack")
            self.stack.update(stack.float(), target_stack.float())
            self._has_stack = True

    def compute(self) -> dict[str, torch.Tensor]:
        out = {}
        for metric in [*self.hdr, *([self.stack] if self._has_stack else [])]:
            out.update({f"test/{key}": value for key, value in metric.compute().items()})
        return out

    def per_image(self) -> tuple[list[str], dict[str, list[float]]]:
        """Scene names and one column per score (stack scores averaged over the EVs), all ranks gathered."""
        columns = {metric.key: metric.per_image().tolist() for metric in self.hdr}
        if self._has_stack:
            columns.update({name: values.mean(1).tolist() for name, values in self.stack.per_image().items()})
        names = self.names
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            gathered: list[list[str]] = [[] for _ in range(torch.distributed.get_world_size())]
            torch.distributed.all_gather_object(gathered, self.names)
            names = [name for part in gathered for name in part]
        return names, columns

    def reset(self) -> None:
        for metric in [*self.hdr, self.stack]:
            metric.reset()
        self._has_stack = False
        self.names = []


def log_run_conventions(module: pl.LightningModule, method: str, stage: str) -> None:
    """Put ``method``, ``stage`` and ``dataset`` into the logger's run config, so runs of every method
    join on the same keys in one W&B dashboard (rank 0 only; loggers without hyperparameters ignore it)."""
    if module.logger is None or module.trainer.global_rank != 0:
        return
    datamodule = module.trainer.datamodule
    module.logger.log_hyperparams({"method": method, "stage": stage,
                                   "dataset": getattr(datamodule, "dataset", None),
                                   "image_size": getattr(datamodule, "image_size", None)})


def finish_test(module: pl.LightningModule, metrics: HDRTestMetrics, folder: Path, method: str) -> dict[str, float]:
    """End of a test epoch: log the scores, write ``metrics_per_image.csv`` and ``summary.json`` to ``folder``
    and, with W&B, a ``test/per_image`` table (one schema for every method). Only rank 0 writes."""
    summary = {key: float(value) for key, value in metrics.compute().items()}
    module.log_dict(summary)
    names, columns = metrics.per_image()
    metrics.reset()
    if module.trainer.global_rank != 0:
        return summary
    datamodule = module.trainer.datamodule
    record = {
        "method": method,
        "run": Path(module.trainer.default_root_dir).name,
        "dataset": getattr(datamodule, "dataset", None),
        "image_size": getattr(datamodule, "image_size", None),
        "num_images": len(names),
        "global_step": module.global_step,
        "protocol": {m.key: m.normalization.as_dict() for m in metrics.hdr if m.normalization is not None},
        "metrics": {key.removeprefix("test/"): value for key, value in summary.items()},
    }
    header = ["method", "name", *columns]
    rows = [[method, name, *(columns[key][i] for key in columns)] for i, name in enumerate(names)]
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(header)
    writer.writerows(rows)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write(folder / "metrics_per_image.csv", lambda tmp: tmp.write_text(text.getvalue()))
    atomic_write(folder / "summary.json", lambda tmp: tmp.write_text(json.dumps(record, indent=2)))
    if isinstance(module.logger, WandbLogger):
        module.logger.log_table(key="test/per_image", columns=header, data=rows)
    return summary
