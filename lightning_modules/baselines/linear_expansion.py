"""Linear expansion of the inverse-gamma input: the trivial single-image reference."""

from __future__ import annotations

import torch

from lightning_modules.baselines.base import ReferenceMethod


class LinearExpansion(ReferenceMethod):
    """``H = D^gamma``: the LDR input linearised by a fixed gamma, clipped highlights left clipped.

    No parameters: run with ``lightning test`` only.

    Args:
        gamma: exponent of the inverse camera curve (2.2: sRGB-like).
        cvvdp, crf_correction, output_dir: see :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(self, gamma: float = 2.2, cvvdp: bool | None = None,
                 crf_correction: bool = True, output_dir: str | None = None) -> None:
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        super().__init__(cvvdp, crf_correction, output_dir)
        self.save_hyperparameters()

    def evaluate(self, batch: dict) -> tuple[None, torch.Tensor]:
        return None, batch["ldr"].clamp(0, 1) ** self.hparams.gamma
