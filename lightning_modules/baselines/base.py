"""What all baselines share: the validation and test path of :class:`~lightning_modules.hdr_method.HDRMethod`."""

from __future__ import annotations

import torch

from lightning_modules.evaluation import exposure_times, log_run_conventions
from lightning_modules.hdr_method import HDRMethod


class HDRBaseline(HDRMethod):
    """A single-image HDR method validated and tested exactly as :class:`~lightning_modules.diffhdrsyn.JointStage`
    (:class:`~lightning_modules.hdr_method.HDRMethod`).

    Subclasses implement :meth:`evaluate` (and, if trained, ``training_step`` / ``configure_optimizers``) and
    forward these evaluation arguments (``**kwargs``); ``self.hparams`` holds theirs and these.

    Args:
        cvvdp: score ColorVideoVDP at test (``test/cvvdp``); None: when the ``cvvdp`` package is installed.
        crf_correction: also report the CRF-corrected test scores (``test/crf/<key>``).
        output_dir: where ``test`` writes its images, ``summary.json`` and ``metrics_per_image.csv``.
    """

    def __init__(self, cvvdp: bool | None = None, crf_correction: bool = True, output_dir: str | None = None) -> None:
        super().__init__()
        self.save_hyperparameters()  # Lightning reads every __init__ frame of the call: the subclass's arguments too
        self.configure_evaluation(cvvdp, crf_correction, output_dir)

    def setup(self, stage: str) -> None:
        log_run_conventions(self, type(self).__name__, "baseline")

    times = staticmethod(exposure_times)


class ReferenceMethod(HDRBaseline):
    """A method without trainable parameters: run it with ``lightning test`` (``fit`` fails clearly)."""

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        raise RuntimeError(self._no_fit_message())

    def configure_optimizers(self) -> None:
        raise RuntimeError(self._no_fit_message())

    def _no_fit_message(self) -> str:
        return f"{type(self).__name__} has no trainable parameters: run `lightning test --config ...`, not fit"
