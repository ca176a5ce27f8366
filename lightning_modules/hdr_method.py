"""The one validation and test path of every single-image HDR method: the joint stage and all baselines."""

from __future__ import annotations

from abc import abstractmethod

import pytorch_lightning as pl
import torch

from lightning_modules.evaluation import HDRMetrics, finish_test, output_folder, write_test_outputs
from lightning_modules.visuals import log_image, stack_grid
from ops.tonemap import hdr_preview


class HDRMethod(pl.LightningModule):
    """Validation and test of a method that turns ``batch["ldr"]`` into linear HDR (maybe through a stack).

    Subclasses implement :meth:`evaluate` and call :meth:`configure_evaluation` in ``__init__``.

    - validation: :class:`~lightning_modules.evaluation.HDRMetrics` with prefix ``val`` (the plain scores
      without ColorVideoVDP and the CRF correction, to keep it cheap), logged at the epoch's end
      (``val/mu_psnr``, ``val/pu21_psnr``, ..., ``val/psnr/up``, ... for stack methods), plus
      :meth:`validation_extras`, and pictures of the first batch (``val/hdr_pred_vs_true``, ``val/stack``);
    - test: the same metrics with prefix ``test``, ColorVideoVDP (``cvvdp``) and CRF-corrected scores
      (``crf/<key>``) included by default, ``summary.json`` and ``metrics_per_image.csv``
      (:func:`~lightning_modules.evaluation.finish_test`) and the images ``hdr/<name>.exr``,
      ``preview/<name>.png`` and ``stack/<name>.png`` (stack methods), all in ``output_dir`` (default
      ``<default_root_dir>/test``).
    """

    def configure_evaluation(self, cvvdp: bool | None, crf_correction: bool, output_dir: str | None) -> None:
        """Build the validation and test metrics. ``cvvdp``: score ColorVideoVDP at test (None: when
        installed); ``crf_correction``: also report CRF-corrected scores; ``output_dir``: test outputs."""
        self.output_dir = output_dir
        self.val_metrics = HDRMetrics("val", cvvdp=False, crf_correction=False)
        self.test_metrics = HDRMetrics("test", cvvdp=cvvdp, crf_correction=crf_correction)

    @abstractmethod
    def evaluate(self, batch: dict) -> tuple[torch.Tensor | None, torch.Tensor]:
        """``(stack, radiance)``: the generated stack ``(B, N, 3, H, W)`` in [0, 1] (None for direct methods)
        and the linear HDR ``(B, 3, H, W)`` (any scale)."""

    def validation_extras(self, batch: dict, stack: torch.Tensor | None, radiance: torch.Tensor) -> dict:
        """Method-specific validation scalars, logged per batch (none by default)."""
        return {}

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        stack, radiance = self.evaluate(batch)
        target_stack = None if stack is None else batch["stack"]
        self.val_metrics.update(radiance, batch["hdr"], stack, target_stack, batch["name"])
        extras = self.validation_extras(batch, stack, radiance)
        if extras:
            self.log_dict(extras, sync_dist=True, batch_size=len(radiance))
        if batch_idx == 0:
            previews = torch.cat([hdr_preview(radiance[:1]), hdr_preview(batch["hdr"][:1])], dim=-1)[0]
            log_image(self.logger, "val/hdr_pred_vs_true", previews, self.global_step)
            if stack is not None:
                log_image(self.logger, "val/stack", stack_grid(stack[0], batch["stack"][0]), self.global_step)

    def on_validation_epoch_end(self) -> None:
        scores = self.val_metrics.compute()
        self.val_metrics.reset()
        if scores:
            self.log("val/mu_psnr", scores.pop("val/mu_psnr"), sync_dist=True, prog_bar=True)
            self.log_dict(scores, sync_dist=True)

    def test_step(self, batch: dict, batch_idx: int) -> None:
        stack, radiance = self.evaluate(batch)
        write_test_outputs(self, output_folder(self.output_dir, self.trainer), batch["name"], radiance, stack)
        self.test_metrics.update(radiance, batch["hdr"], stack, None if stack is None else batch["stack"],
                                 batch["name"])

    def on_test_epoch_end(self) -> None:
        finish_test(self, self.test_metrics, output_folder(self.output_dir, self.trainer), type(self).__name__)
