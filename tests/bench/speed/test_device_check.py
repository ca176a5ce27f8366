"""``bench/runners/device_check.sh`` in CPU mode (how CI runs it): every check passes, one table, the JSON."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
import torch

from bench.speed.device_check import TRAINING, main, write_json
from bench.speed.device_cases import random_vgg19_weights
from losses.cobi import VGG19Features

SCRIPT = Path(__file__).resolve().parents[3] / "bench/runners/device_check.sh"


def test_cpu_mode_runs_every_check_and_writes_the_table(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--cpu", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "CPU MODE (no NVIDIA GPU used)" in printed and "| check | status | it/s |" in printed
    report = json.loads((tmp_path / "device_check.json").read_text())
    assert report["finished"] and report["mode"] == "cpu"
    rows = {row["check"]: row for row in report["checks"]}
    assert set(rows) == {"op: PyTorch path vs C kernels", "reconstruct", *(f"joint {name}" for name, *_ in TRAINING)}
    assert all(row["status"] == "ok" for row in rows.values()), [r.get("notes") for r in rows.values()]
    assert rows["op: PyTorch path vs C kernels"]["max_log_error"]["float64"] < 1e-9
    for name, *_ in TRAINING:
        row = rows[f"joint {name}"]
        assert row["steps"] == 1 and row["it_per_s"] > 0 and row["projected_70k_h"] > 0
        if name != "fp32":
            assert row["first_loss_rel_diff"] < 2e-3  # bf16 within the stated tolerance; compile equal
    assert rows["joint fp32+compile"]["first_loss_rel_diff"] < 1e-6
    assert list(tmp_path.glob("*.tmp")) == [], "the JSON is written atomically"
    assert main(["--out", str(tmp_path), "--report-only"]) == 1
    assert "| joint bf16+compile | ok |" in capsys.readouterr().out


def test_report_of_a_missing_json_and_of_a_killed_check(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["--out", str(tmp_path / "none"), "--report-only"]) == 1
    assert "no check finished" in capsys.readouterr().out
    killed = {"check": "joint fp32+compile", "status": "killed", "notes": "still running when the run was stopped"}
    write_json(tmp_path / "device_check.json", {"description": "d", "finished": False, "checks": [killed]})
    assert main(["--out", str(tmp_path), "--report-only"]) == 1
    assert "| joint fp32+compile | killed | — | — | — | — | — | still running" in capsys.readouterr().out


def test_shell_script_parses() -> None:
    assert subprocess.run(["bash", "-n", str(SCRIPT)], check=False).returncode == 0


def test_random_vgg19_weights_load_as_cobi_features(tmp_path: Path) -> None:
    """The GPU plan's CoBi runs on these (the CPU plan leaves CoBi out)."""
    features = VGG19Features(random_vgg19_weights(tmp_path / "vgg.pth"))
    assert [f.shape[1] for f in features(torch.rand(1, 3, 32, 32))] == [256, 512]
