"""DDP on CPU (gloo, 2 processes) through a subprocess of the CLI, as a user launches it."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.helpers import composed_experiment

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(tmp: Path, stage: str = "joint") -> Path:
    """``experiments/<stage>.yaml`` (a joint-stage config) at tiny width and 64 px, logging to CSV in ``tmp``, plus a scene recorder."""
    config = composed_experiment(ROOT / "experiments" / f"{stage}.yaml")
    trainer = config["trainer"]
    trainer.update(max_steps=3, limit_val_batches=2, enable_progress_bar=False, default_root_dir=str(tmp / stage),
                   accelerator="cpu", log_every_n_steps=1)
    trainer["logger"] = {"class_path": "pytorch_lightning.loggers.CSVLogger",
                         "init_args": {"save_dir": str(tmp / "logs"), "name": stage}}
    trainer["callbacks"][-1]["init_args"]["dirpath"] = str(tmp / stage / "checkpoints")
    trainer["callbacks"].append({"class_path": "tests.helpers.RecordScenes",
                                 "init_args": {"out_dir": str(tmp / stage / "scenes")}})
    config["model"]["init_args"].update(width="tiny", global_ckpt=None, local_ckpt=None)
    config["data"]["init_args"].update(image_size=64, num_workers=0, sample={"views_per_scene": 2})
    path = tmp / f"{stage}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-m", "hdrsyn", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def logged_metric(tmp: Path, name: str, key: str) -> float:
    rows = list(csv.DictReader((tmp / "logs" / name / "version_0" / "metrics.csv").open()))
    return float(next(row[key] for row in rows if row.get(key)))


@pytest.fixture(scope="module")
def ddp_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("ddp")
    config = tiny_config(tmp, "joint")
    run_cli("fit", "--config", str(config), "--trainer.devices", "2", "--trainer.strategy", "ddp")
    checkpoint = str(tmp / "joint" / "checkpoints" / "last.ckpt")
    run_cli("test", "--config", str(config), "--trainer.devices", "2", "--trainer.strategy", "ddp",
            "--ckpt_path", checkpoint, "--trainer.logger.init_args.name", "test_ddp",
            "--model.init_args.output_dir", str(tmp / "out_ddp"))
    run_cli("predict", "--config", str(config), "--trainer.devices", "2", "--trainer.strategy", "ddp",
            "--ckpt_path", checkpoint, "--model.init_args.output_dir", str(tmp / "out_ddp"))
    run_cli("test", "--config", str(config), "--trainer.devices", "1", "--ckpt_path", checkpoint,
            "--trainer.logger.init_args.name", "test_single", "--model.init_args.output_dir", str(tmp / "out_single"))
    return tmp


def test_ranks_see_disjoint_data(ddp_runs: Path) -> None:
    seen = [json.loads((ddp_runs / "joint" / "scenes" / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert len(seen[0]) == len(seen[1]) == 3
    assert not set(seen[0]) & set(seen[1]), seen


def test_only_rank_zero_writes_checkpoints(ddp_runs: Path) -> None:
    files = sorted(p.name for p in (ddp_runs / "joint" / "checkpoints").iterdir() if not p.name.startswith("."))
    assert files == ["last.ckpt", "step3.ckpt"], files


def test_ddp_metric_equals_single_process(ddp_runs: Path) -> None:
    """6 test views split 3 + 3 over two ranks: the reduced mean equals the one-process mean."""
    ddp = logged_metric(ddp_runs, "test_ddp", "test/psnr/up")
    single = logged_metric(ddp_runs, "test_single", "test/psnr/up")
    assert ddp == pytest.approx(single, rel=1e-5)
    assert sorted(p.name for p in (ddp_runs / "out_ddp" / "hdr").iterdir()) == sorted(
        p.name for p in (ddp_runs / "out_single" / "hdr").iterdir()
    )


def test_ddp_predict_writes_every_item_once(ddp_runs: Path) -> None:
    """6 views over two ranks: rank 0 gathers and writes all of them."""
    names = sorted(p.stem for p in (ddp_runs / "out_ddp" / "predict").glob("*.exr"))
    assert names == sorted(p.stem for p in (ddp_runs / "out_ddp" / "hdr").glob("*.exr")) and len(names) == 6
