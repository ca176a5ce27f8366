"""Linear expansion of the inverse-gamma input: the trivial single-image reference."""

from __future__ import annotations

from typing import Any

import torch

from lightning_modules.baselines.base import ReferenceMethod


class LinearExpansion(ReferenceMethod):
    """``H = D^gamma``: the LDR input linearised by a fixed gamma, clipped highlights left clipped.

    No parameters: run with ``lightning test`` only.

    Args:
        gamma: exponent of the inverse camera curve (2.2: sRGB-like).
        **kwargs: the evaluation arguments (``cvvdp``, ``crf_correction``, ``output_dir``) of
            :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(self, gamma: float = 2.2, **kwargs: Any) -> None:
        if gamma <= 0:
            raise ValueError(f"gamma must be > 0, got {gamma}")
        super().__init__(**kwargs)

    def evaluate(self, batch: dict) -> tuple[None, torch.Tensor]:
        return None, batch["ldr"].clamp(0, 1) ** self.hparams.gamma
