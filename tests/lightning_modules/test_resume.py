"""Fault tolerance: a run killed with SIGKILL mid-epoch resumes to the same weights; saves are atomic."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import fsspec.implementations.local
import pytest
import torch
import yaml
from pytorch_lightning.plugins.io import TorchCheckpointIO

from tests.helpers import composed_experiment

ROOT = Path(__file__).resolve().parents[2]
EPOCHS = 4


def config(tmp: Path, name: str) -> Path:
    """The global stage at tiny width: 13 scenes per epoch, a checkpoint at every epoch end, no logger."""
    cfg = composed_experiment(ROOT / "experiments" / "global.yaml")
    cfg["trainer"].update(max_epochs=EPOCHS, max_steps=-1, limit_val_batches=0, enable_progress_bar=False,
                          logger=False, default_root_dir=str(tmp / name), accelerator="cpu", deterministic=True)
    cfg["trainer"]["callbacks"][-1]["init_args"]["dirpath"] = str(tmp / name / "checkpoints")  # StageCheckpoint
    cfg["model"]["init_args"]["width"] = "tiny"
    cfg["data"]["init_args"].update(image_size=64, num_workers=1, views_per_scene=1)
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def command(cfg: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "hdrsyn", "fit", "--config", str(cfg), *extra]


ENV = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}


def weights(path: Path) -> dict[str, torch.Tensor]:
    checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    assert checkpoint["epoch"] == EPOCHS - 1
    return checkpoint["state_dict"]


def test_sigkill_mid_epoch_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    whole = config(tmp_path, "whole")
    subprocess.run(command(whole), cwd=ROOT, env=ENV, check=True, capture_output=True, timeout=900)

    killed = config(tmp_path, "killed")
    last = tmp_path / "killed" / "checkpoints" / "last.ckpt"
    process = subprocess.Popen(command(killed), cwd=ROOT, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while not last.exists() and time.time() < deadline and process.poll() is None:
        time.sleep(0.05)
    time.sleep(1.0)  # a few steps into the second epoch
    process.send_signal(signal.SIGKILL)
    assert process.wait(timeout=60) == -signal.SIGKILL, "the run ended before it could be killed"
    interrupted_at = torch.load(last, map_location="cpu", weights_only=False)["epoch"]
    assert interrupted_at < EPOCHS - 1

    subprocess.run(command(killed, "--ckpt_path", str(last)), cwd=ROOT, env=ENV, check=True, capture_output=True,
                   timeout=900)
    expected = weights(tmp_path / "whole" / "checkpoints" / "last.ckpt")
    resumed = weights(last)
    assert expected.keys() == resumed.keys()
    for key in expected:
        assert torch.equal(expected[key], resumed[key]), key


def test_failed_checkpoint_write_keeps_the_previous_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lightning writes checkpoints through a temporary file: a write that dies half-way loses nothing."""
    path = tmp_path / "last.ckpt"
    io = TorchCheckpointIO()
    io.save_checkpoint({"state_dict": {"w": torch.ones(3)}}, path)
    before = path.read_bytes()

    def broken_write(self, data):  # noqa: ANN001
        self.f.write(data[: len(data) // 2])  # half of the bytes reach the disk, then the write dies
        raise OSError("disk full")

    monkeypatch.setattr(fsspec.implementations.local.LocalFileOpener, "write", broken_write)
    with pytest.raises(OSError, match="disk full"):
        io.save_checkpoint({"state_dict": {"w": torch.zeros(1000)}}, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.ckpt"]
    assert torch.equal(torch.load(path, weights_only=False)["state_dict"]["w"], torch.ones(3))
