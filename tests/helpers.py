"""Small helpers shared by the tests."""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch

from lightning_modules.diffhdrsyn.model import GlobalUNet, RefineUNet


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
    for m in module.modules():
        if isinstance(m, (GlobalUNet, RefineUNet)):
            torch.nn.init.normal_(m.head.weight, 0.0, std)


@dataclass
class OfflineRun:
    """What a W&B offline run recorded: its name, group and job type, config keys and logged (history) keys."""

    path: Path
    name: str
    group: str
    job_type: str
    config: dict[str, object] = field(default_factory=dict)
    logged: set[str] = field(default_factory=set)


def read_offline_run(folder: Path) -> OfflineRun:
    """Parse ``folder/run-*.wandb``: a LevelDB-style log (7-byte header, 32 KiB blocks of records with a
    7-byte header: crc32c, length, type 1 = full, 2..4 = first/middle/last part) of W&B ``Record`` protobufs."""
    from wandb.proto import wandb_internal_pb2

    (path,) = folder.glob("run-*.wandb")
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B transaction log"
    block, pos, parts = 32 * 1024, 7, []
    run = OfflineRun(folder, "", "", "")
    while pos + 7 <= len(data):
        left = block - pos % block
        _, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        if left < 7 or kind == 0:
            pos += left
            continue
        parts.append(data[pos + 7:pos + 7 + length])
        pos += 7 + length
        if kind not in (1, 4):
            continue
        record = wandb_internal_pb2.Record()
        record.ParseFromString(b"".join(parts))
        parts = []
        which = record.WhichOneof("record_type")
        if which == "run":
            run.name, run.group, run.job_type = record.run.display_name, record.run.run_group, record.run.job_type
            run.config.update({item.key: json.loads(item.value_json) for item in record.run.config.update})
        elif which == "config":
            run.config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif which == "history":
            run.logged.update(item.key or "/".join(item.nested_key) for item in record.history.item)
    return run


def composed_experiment(path: Path) -> dict:
    """An experiment YAML with the configs it composes (``config:``) merged in, as one self-contained dict:
    sections merge key by key, lists and values of the experiment win (as our CLI composes them)."""
    import yaml

    def merge(base: dict, top: dict) -> dict:
        out = dict(base)
        for key, value in top.items():
            out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
        return out

    config = yaml.safe_load(path.read_text())
    bases = config.pop("config", [])
    merged: dict = {}
    for base in [bases] if isinstance(bases, str) else bases:
        merged = merge(merged, composed_experiment(path.parent / base))
    return merge(merged, config)
