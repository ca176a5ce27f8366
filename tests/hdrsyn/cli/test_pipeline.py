"""``hdrsyn pipeline`` as a user runs it: one W&B run per stage and invocation, each with only its own metrics."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hdrsyn.metrics import cvvdp_available
from tests.helpers import read_offline_run

ROOT = Path(__file__).resolve().parents[3]
#: Every stage for one step at the tiny width on 32-px crops, validated once; the test pass scores 3 views.
TINY = """
trainer:
  max_steps: 1
  val_check_interval: 1
  num_sanity_val_steps: 0
  log_every_n_steps: 1
  enable_progress_bar: false
  enable_model_summary: false
model:
  init_args:
    width: tiny
data:
  init_args:
    image_size: 32
    num_workers: 0
    sample:
      views_per_scene: 1
"""


#: Starts ``sys.argv[2:]`` in the folder ``sys.argv[1]`` from a process with a live W&B service of its own, which
#: the command inherits (``WANDB_SERVICE``), as from a notebook or a script that uses W&B.
WITH_LIVE_WANDB = """
import subprocess, sys, wandb
wandb.setup()
sys.exit(subprocess.run(sys.argv[2:], cwd=sys.argv[1]).returncode)
"""


@pytest.fixture(scope="module")
def pipeline_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``hdrsyn pipeline`` in a fresh folder with W&B offline (about 15 s on 2 CPU cores), started from another
    folder by a process with a live W&B service: the runs are still written, complete, into ``runs/<stage>``
    when the command exits."""
    work = tmp_path_factory.mktemp("pipeline")
    (work / "tiny.yaml").write_text(TINY)
    wandb_home = str(work / "wandb-home")
    env = {**os.environ, "WANDB_MODE": "offline", "WANDB_SILENT": "true", "OMP_NUM_THREADS": "1",
           "WANDB_CONFIG_DIR": wandb_home, "WANDB_CACHE_DIR": wandb_home, "WANDB_DATA_DIR": wandb_home,
           "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    command = [sys.executable, "-m", "hdrsyn", "pipeline", "--experiments", str(ROOT / "experiments"),
               "--overlay", "tiny.yaml"]
    result = subprocess.run([sys.executable, "-c", WITH_LIVE_WANDB, str(work), *command], cwd=work.parent, env=env,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return work / "runs"


def test_one_offline_run_per_stage_and_invocation(pipeline_runs: Path) -> None:
    folders = {stage: sorted((pipeline_runs / stage / "wandb").glob("offline-run-*"))
               for stage in ("global", "local", "joint")}
    assert {stage: len(found) for stage, found in folders.items()} == {"global": 1, "local": 1, "joint": 3}
    runs = [read_offline_run(folder) for found in folders.values() for folder in found]
    assert [(run.name, run.job_type, run.config["command"]) for run in runs] == [
        ("global", "global", "fit"), ("local", "local", "fit"), ("joint", "joint", "fit"), ("joint", "joint", "test"),
        ("joint", "joint", "test")]
    assert [run.config["data"]["init_args"]["test_split"] for run in runs[-2:]] == ["val", "test"]
    for run in runs:
        assert run.group == "sample-cpu"
        assert run.config["model"]["class_path"].endswith(f"{run.name.capitalize()}Stage")
        assert len(run.config["git"]["commit"]) == 40
        assert run.config["data_fingerprint"]["dataset"] == "sample"
        assert len(run.config["data_fingerprint"]["sha256"]) == 64


def test_each_run_holds_only_its_own_stage_metrics(pipeline_runs: Path) -> None:
    global_run, local_run, joint_fit, joint_test, scenes_test = (
        read_offline_run(folder) for stage in ("global", "local", "joint")
        for folder in sorted((pipeline_runs / stage / "wandb").glob("offline-run-*")))
    assert {"train/global", "val/psnr/up"} <= global_run.logged
    assert {"train/loss", "val/loss"} <= local_run.logged
    assert {"train/hdr", "val/mu_psnr", "val/loss_hdr", "val/psnr/up"} <= joint_fit.logged
    assert {"test/pu21_psnr", "test/crf/pu21_psnr", "test/psnr/up"} <= joint_test.logged
    assert ("test/cvvdp" in joint_test.logged) == cvvdp_available()
    foreign = {  # keys another stage or invocation logs
        "global": ("train/local", "train/hdr", "val/mu_psnr", "test/"),
        "local": ("train/global", "train/hdr", "val/psnr", "val/mu_psnr", "test/"),
        "joint fit": ("test/",),
        "joint test": ("train/", "val/"),
    }
    for (run, keys), prefixes in zip(
        {"global": global_run.logged, "local": local_run.logged, "joint fit": joint_fit.logged,
         "joint test": joint_test.logged}.items(), foreign.values(), strict=True):
        assert not [key for key in keys if key.startswith(prefixes)], run
    summary = json.loads((pipeline_runs / "joint" / "test" / "summary.json").read_text())
    assert summary["wandb"]["id"] == joint_test.path.name.rsplit("-", 1)[-1]
    assert summary["checkpoint"]["global_step"] == summary["global_step"] == 1
    assert summary["num_images"] == 3 and summary["test_split"] == "val"  # one view of each held-out scene
    scenes = json.loads((pipeline_runs / "joint" / "test_scenes" / "summary.json").read_text())
    assert scenes["num_images"] == 6 and scenes["test_split"] == "test" and scenes["wandb"]["id"] == scenes_test.path.name.rsplit("-", 1)[-1]
    assert {"test/pu21_psnr", "test/psnr/up"} <= scenes_test.logged


def test_resume_continues_each_stage_from_its_last_checkpoint(tmp_path: Path) -> None:
    """An interrupted release pipeline is run again with ``--resume``: the stage goes on from ``last.ckpt``
    (its step count and learning-rate schedule), instead of starting over; the release configs parse."""
    def pipeline(steps: int) -> subprocess.CompletedProcess:
        (tmp_path / "tiny.yaml").write_text(TINY.replace("max_steps: 1", f"max_steps: {steps}"))
        env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1",
               "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
        return subprocess.run([sys.executable, "-m", "hdrsyn", "pipeline", "--experiments",
                               str(ROOT / "experiments" / "release"), "--overlay", "tiny.yaml", "--stages", "global",
                               "--no-test", "--resume"], cwd=tmp_path, env=env, capture_output=True, text=True,
                              timeout=600)

    last = tmp_path / "runs" / "release" / "global" / "checkpoints" / "last.ckpt"
    first = pipeline(2)
    assert first.returncode == 0, first.stderr[-3000:]
    assert torch.load(last, weights_only=False)["global_step"] == 2
    again = pipeline(3)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Restored all states from the checkpoint" in again.stdout + again.stderr
    checkpoint = torch.load(last, weights_only=False)
    assert checkpoint["global_step"] == 3
    assert checkpoint["lr_schedulers"][0]["last_epoch"] == 3  # the cosine decay went on, not restarted
