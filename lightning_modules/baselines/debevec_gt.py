"""Debevec merge of the ground-truth stack: the upper bound of any method that generates a stack."""

from __future__ import annotations

from typing import Any

import torch

from lightning_modules.baselines.base import ReferenceMethod
from ops.hdr_synthesis import DEFAULT_SAMPLING, DEFAULT_SMOOTHNESS, synthesize_hdr


class DebevecReference(ReferenceMethod):
    """HDR of the ground-truth exposures (EV -3..+3) by :func:`~ops.hdr_synthesis.synthesize_hdr`.

    A stack method with a perfect stack would produce exactly this, so it bounds how well the merge
    itself can do (it differs from the ground-truth HDR by the CRF fit, quantisation, noise and the
    range covered by the 7 exposures). The stack is the input, not a prediction: no stack metrics
    and no ``stack/`` images. No parameters: run with ``lightning test`` only.

    Args:
        hdr_sampling, hdr_smoothness: CRF-recovery sampling and lambda (as :class:`JointStage`).
        **kwargs: the evaluation arguments (``cvvdp``, ``crf_correction``, ``output_dir``) of
            :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(self, hdr_sampling: str = DEFAULT_SAMPLING, hdr_smoothness: float = DEFAULT_SMOOTHNESS,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)

    def evaluate(self, batch: dict) -> tuple[None, torch.Tensor]:
        radiance, _ = synthesize_hdr(batch["stack"], self.times(batch), self.hparams.hdr_sampling,
                                     smoothness=self.hparams.hdr_smoothness)
        return None, radiance
