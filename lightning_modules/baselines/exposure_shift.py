"""The analytic exposure stack merged by the HDR layer: the reference our generator starts from."""

from __future__ import annotations

from typing import Any

import torch

from lightning_modules.baselines.base import ReferenceMethod
from ops.exposure import exposure_stack
from ops.hdr_synthesis import DEFAULT_SAMPLING, DEFAULT_SMOOTHNESS, synthesize_hdr


class ExposureShiftReference(ReferenceMethod):
    """Stack ``clip((x^gamma 2^EV)^(1/gamma), 0, 1)`` for the batch's EVs (:func:`ops.exposure.exposure_stack`),
    merged by :func:`~ops.hdr_synthesis.synthesize_hdr` as :class:`JointStage` merges its generated stack.

    It is what the untrained generator outputs (``shift_residual=True``), so the stack and HDR scores a
    trained model adds over it are what training bought. No parameters: run with ``lightning test`` only.

    Args:
        gamma: exponent of the assumed camera response.
        hdr_sampling, hdr_smoothness: CRF-recovery sampling and lambda (as :class:`JointStage`).
        **kwargs: the evaluation arguments (``cvvdp``, ``crf_correction``, ``output_dir``) of
            :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(self, gamma: float = 2.2, hdr_sampling: str = DEFAULT_SAMPLING,
                 hdr_smoothness: float = DEFAULT_SMOOTHNESS,
                 **kwargs: Any) -> None:
        if not gamma > 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        super().__init__(**kwargs)

    def evaluate(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        stack = exposure_stack(batch["ldr"], batch["ev"][0].tolist(), self.hparams.gamma)
        radiance, _ = synthesize_hdr(stack, self.times(batch), self.hparams.hdr_sampling,
                                     smoothness=self.hparams.hdr_smoothness)
        return stack, radiance
