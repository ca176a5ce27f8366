"""Small helpers shared by the tests."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch


def to_stack(images: np.ndarray) -> torch.Tensor:
    """``(N, H, W, 3)`` uint8 -> ``(1, N, 3, H, W)`` float32 in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2)[None].float() / 255


class RecordScenes(pl.Callback):
    """Test helper: each rank writes the scene names of its training batches to ``rank<r>.json``."""

    def __init__(self, out_dir: str) -> None:
        self.out_dir = Path(out_dir)
        self.names: list[str] = []

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx: int) -> None:  # noqa: ANN001
        self.names.extend(batch["name"])

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / f"rank{trainer.global_rank}.json").write_text(json.dumps(self.names))


def randomize_heads(module: torch.nn.Module, std: float = 0.1) -> None:
    """Give the zero-initialised output heads of the global and refinement nets random weights, as
    training would (with zero heads nothing upstream of them changes the output)."""
    from hdrsyn.networks import GlobalUNet, RefineUNet

    for m in module.modules():
        if isinstance(m, (GlobalUNet, RefineUNet)):
            torch.nn.init.normal_(m.head.weight, 0.0, std)
