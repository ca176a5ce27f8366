"""Validation and test shared by all baselines, with the keys and outputs of :class:`JointStage`."""

from __future__ import annotations

from abc import abstractmethod

import pytorch_lightning as pl
import torch

from lightning_modules.evaluation import (
    HDRTestMetrics,
    exposure_times,
    finish_test,
    log_run_conventions,
    hdr_preview,
    log_stack_psnr,
    mu_psnr,
    output_folder,
    write_test_outputs,
)
from lightning_modules.visuals import log_image, stack_grid


class HDRBaseline(pl.LightningModule):
    """A single-image HDR method evaluated like :class:`~lightning_modules.joint_stage.JointStage`.

    Subclasses implement :meth:`evaluate` (and, if trained, ``training_step`` / ``configure_optimizers``).
    Validation logs ``val/mu_psnr`` and, for stack methods, ``val/psnr_ev{+-k}`` / ``val/psnr_stack``.
    Test logs ``test/psnr_ev{+-k}`` / ``test/psnr_stack`` per batch (stack methods), the epoch scores of
    :class:`~lightning_modules.evaluation.HDRTestMetrics` (``test/mu_psnr``, ``test/pu21_psnr``, ...),
    writes ``metrics_per_image.csv`` and ``summary.json`` (:func:`~lightning_modules.evaluation.finish_test`),
    and writes ``hdr/<name>.exr``, ``preview/<name>.png`` and ``stack/<name>.png`` (stack methods) to
    ``output_dir`` (default ``<default_root_dir>/test``).

    Args:
        mu: mu-law compression of ``val/mu_psnr`` and ``test/mu_psnr``.
        cvvdp: also score ColorVideoVDP at test (``test/cvvdp``).
        output_dir: where ``test`` writes its images.
    """

    def __init__(self, mu: float = 5000.0, cvvdp: bool = False, output_dir: str | None = None) -> None:
        super().__init__()
        self.mu = mu
        self.output_dir = output_dir
        self.test_metrics = HDRTestMetrics(mu, cvvdp)

    def setup(self, stage: str) -> None:
        log_run_conventions(self, type(self).__name__, "baseline")

    @abstractmethod
    def evaluate(self, batch: dict) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(stack, radiance)``: the generated stack ``(B, N, 3, H, W)`` in [0, 1] (None for direct methods)
        and the linear HDR ``(B, 3, H, W)`` (any scale)."""

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        stack, radiance = self.evaluate(batch)
        if stack is not None:
            log_stack_psnr(self, "val", stack, batch["stack"], batch["ev"])
        self.log("val/mu_psnr", mu_psnr(radiance, batch["hdr"], self.mu), sync_dist=True, prog_bar=True,
                 batch_size=len(radiance))
        if batch_idx == 0:
            previews = torch.cat([hdr_preview(radiance[:1]), hdr_preview(batch["hdr"][:1])], dim=-1)[0]
            log_image(self.logger, "val/hdr_pred_vs_true", previews, self.global_step)
            if stack is not None:
                log_image(self.logger, "val/stack", stack_grid(stack[0], batch["stack"][0]), self.global_step)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        stack, radiance = self.evaluate(batch)
        if stack is not None:
            log_stack_psnr(self, "test", stack, batch["stack"], batch["ev"])
        write_test_outputs(self, output_folder(self.output_dir, self.trainer), batch["name"], radiance, stack)
        self.test_metrics.update(radiance, batch["hdr"], stack, None if stack is None else batch["stack"],
                                 batch["name"])

    def on_test_epoch_end(self) -> None:
        finish_test(self, self.test_metrics, output_folder(self.output_dir, self.trainer), type(self).__name__)

    times = staticmethod(exposure_times)


class ReferenceMethod(HDRBaseline):
    """A method without trainable parameters: run it with ``lightning test`` (``fit`` fails clearly)."""

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        raise RuntimeError(self._no_fit_message())

    def configure_optimizers(self) -> None:
        raise RuntimeError(self._no_fit_message())

    def _no_fit_message(self) -> str:
        return f"{type(self).__name__} has no trainable parameters: run `lightning test --config ...`, not fit"
