"""Fault tolerance: a run killed with SIGKILL mid-epoch resumes to the same weights; saves are atomic."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

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
    cfg["data"]["init_args"].update(image_size=64, num_workers=1, sample={"views_per_scene": 1})
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


def test_a_full_disk_keeps_the_previous_checkpoint_and_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """A checkpoint is written to a temporary sibling and renamed: a disk that fills up half-way through
    ``last.ckpt`` leaves the previous one as it was, no temporary behind, and one line naming the folder."""
    from hdrsyn.cli import lightning_main
    from tests.lightning_modules.conftest import tiny_overrides

    folder = tmp_path / "global" / "checkpoints"
    lightning_main(["fit", *tiny_overrides(tmp_path, "global", steps=1), "--trainer.logger", "false"])
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 1
    before = sorted(p.name for p in folder.iterdir())
    write_bytes = Path.write_bytes

    def disk_fills_up(path: Path, data: bytes) -> int:
        if path.suffix != ".ckpt":
            return write_bytes(path, data)
        write_bytes(path, bytes(data)[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(Path, "write_bytes", disk_fills_up)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_info:
        lightning_main(["fit", *tiny_overrides(tmp_path, "global", steps=2), "--trainer.logger", "false",
                        "--ckpt_path", "last"])
    assert exit_info.value.code == 2
    err = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(err) == 1 and err[0].startswith(f"lightning fit: error: no space left on {folder} writing step2.ckpt")
    assert sorted(p.name for p in folder.iterdir()) == before
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 1
