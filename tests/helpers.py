"""Small helpers shared by the tests."""

from __future__ import annotations

import numpy as np
import torch


def to_stack(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(1, N, 3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2)[None].float() / 255
