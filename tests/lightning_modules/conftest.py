"""Fixtures for stage tests: a tiny config overlay writing into tmp_path, and a fake batch."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml

EXPERIMENTS = Path(__file__).resolve().parents[2] / "experiments"


def tiny_overrides(root: Path, stage: str, steps: int = 2) -> list[str]:
    """CLI arguments running ``experiments/<stage>.yaml`` for a few tiny steps inside ``root``."""
    return [
        "--config", str(EXPERIMENTS / f"{stage}.yaml"),
        "--trainer.max_steps", str(steps),
        "--trainer.limit_val_batches", "1",
        "--trainer.enable_progress_bar", "false",
        "--trainer.default_root_dir", str(root / stage),
        "--trainer.logger.init_args.save_dir", str(root / stage),
        "--trainer.callbacks.init_args.dirpath", str(root / stage / "checkpoints"),
        "--model.init_args.width", "tiny",
        "--data.init_args.image_size", "64",
        "--data.init_args.num_workers", "0",
        "--data.init_args.sample.views_per_scene", "1",
    ]


@pytest.fixture()
def batch() -> dict:
    """A 64 px batch of one sorted random stack with EV -3..+3 and a positive HDR."""
    torch.manual_seed(0)
    stack = torch.rand(1, 7, 3, 64, 64).sort(dim=1).values
    return {
        "ldr": stack[:, 3].clone(),
        "stack": stack,
        "ev": torch.arange(-3.0, 4.0)[None],
        "hdr": torch.rand(1, 3, 64, 64) * 4 + 0.01,
        "edges": torch.zeros(1, 7, 1, 64, 64),
        "name": ["fake"],
    }


@pytest.fixture()
def saturated(batch: dict) -> dict:
    """The fake batch with a clipped corner, so that HDRCNN's blend mask is non-empty."""
    batch = dict(batch)
    batch["ldr"] = batch["ldr"].clone()
    batch["ldr"][..., :16, :16] = 1.0
    return batch


def read_config(path: Path) -> dict:
    return yaml.safe_load(path.read_text())
