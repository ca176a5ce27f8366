"""Our LightningCLI: a bad configuration, dataset or stage checkpoint ends in one message, before training."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

from hdrsyn.cli.lightning import run
from lightning_modules.diffhdrsyn import GlobalStage
from tests.lightning_modules.conftest import tiny_overrides


def fails_with_one_message(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI with ``args``; assert exit status 2 and a single error line without a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        run(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Epoch" not in err
    last = err.rstrip("\n").splitlines()[-1]
    assert last.startswith(f"hdrsyn {args[0]}: error: "), f"the error is not one line, last: {last!r}"
    return last


def test_unknown_width_names_the_argument(tmp_path: Path, capsys) -> None:
    args = ["fit", *tiny_overrides(tmp_path, "global"), "--model.init_args.width", "huge"]
    assert "unknown width preset width='huge'; choose from" in fails_with_one_message(args, capsys)


@pytest.mark.parametrize("truncated", [False, True])
def test_a_missing_or_truncated_stage_checkpoint_is_named_before_training(tmp_path: Path, capsys,
                                                                          truncated: bool) -> None:
    """Missing: refused while the model is built; truncated: when the fit loads it, before the first step."""
    ckpt = tmp_path / "global.ckpt"
    if truncated:
        torch.save({"state_dict": GlobalStage(width="tiny").state_dict()}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    args = ["fit", *tiny_overrides(tmp_path, "joint"), "--model.init_args.global_ckpt", str(ckpt),
            "--model.init_args.local_ckpt", "null"]
    message = fails_with_one_message(args, capsys)
    expected = "cannot be read" if truncated else "does not exist; train that stage first"
    assert f"global_ckpt='{ckpt}'" in message and expected in message
    assert not (tmp_path / "joint" / "checkpoints").exists()


@pytest.mark.parametrize("empty", [False, True])
def test_a_missing_or_empty_dataset_root_is_one_message(tmp_path: Path, capsys, empty: bool) -> None:
    root = tmp_path / "vds"
    if empty:
        root.mkdir()
    args = ["fit", *tiny_overrides(tmp_path, "global"), "--data.init_args.dataset", "vds",
            "--data.init_args.root", str(root)]
    assert f"VDS dataset not found: {root}/train_set does not exist" in fails_with_one_message(args, capsys)


@pytest.mark.parametrize("truncated", [False, True])
def test_a_missing_or_truncated_ckpt_path_is_one_message(tmp_path: Path, capsys, truncated: bool) -> None:
    ckpt = tmp_path / "last.ckpt"
    if truncated:
        torch.save({"state_dict": GlobalStage(width="tiny").state_dict()}, ckpt)
        ckpt.write_bytes(ckpt.read_bytes()[:1000])
    args = ["validate", *tiny_overrides(tmp_path, "global"), "--ckpt_path", str(ckpt)]
    expected = "is truncated or not a checkpoint" if truncated else "does not exist"
    assert f"--ckpt_path='{ckpt}' {expected}" in fails_with_one_message(args, capsys)


def resolved(args: list[str]) -> dict:
    """The configuration our CLI builds from ``args`` (composition and run folders included), as a dict."""
    import yaml
    from pytorch_lightning import LightningDataModule, LightningModule

    from hdrsyn.cli.lightning import HDRSynCLI, with_base_configs

    cli = HDRSynCLI(LightningModule, LightningDataModule, subclass_mode_model=True, subclass_mode_data=True,
                    args=with_base_configs(args), run=False, save_config_callback=None)
    return yaml.safe_load(cli.parser.dump(cli.config, skip_none=False))


def test_an_experiment_composes_base_yaml_key_by_key(tmp_path: Path) -> None:
    """``config: base.yaml`` + what differs: nested sections merge with the base's (they do not replace it),
    and the run folder is named once (W&B's save_dir and the checkpoint folder follow it)."""
    root = Path(__file__).resolve().parents[3] / "experiments"
    config = resolved(["--config", str(root / "global.yaml"), "--trainer.logger", "false"])
    trainer = config["trainer"]
    assert trainer["max_steps"] == 150 and trainer["log_every_n_steps"] == 10  # experiment, base
    assert trainer["reload_dataloaders_every_n_epochs"] == 1 and config["seed_everything"] == 0
    assert [c["class_path"].rpartition(".")[2] for c in trainer["callbacks"]] == [
        "FlushDenormals", "NonFiniteGuard", "StageCheckpoint"]
    assert trainer["callbacks"][-1]["init_args"]["dirpath"] == "runs/global/checkpoints"
    assert config["data"]["init_args"]["image_size"] == 128 and config["model"]["init_args"]["lr"] == 1e-3

    (tmp_path / "base.yaml").write_text((root / "base.yaml").read_text())
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "mine.yaml").write_text(
        "config: ../base.yaml\ntrainer:\n  default_root_dir: runs/mine\n  logger:\n    init_args:\n      name: mine\n"
        "model:\n  class_path: lightning_modules.diffhdrsyn.GlobalStage\n  init_args:\n    width: tiny\n")
    config = resolved(["--config", str(tmp_path / "sub" / "mine.yaml")])
    logger = config["trainer"]["logger"]["init_args"]
    assert (logger["name"], logger["project"], logger["group"], logger["save_dir"]) == (
        "mine", "hdrsyn", "sample-cpu", "runs/mine")
    assert config["trainer"]["callbacks"][-1]["init_args"]["dirpath"] == str(Path("runs/mine/checkpoints"))


def test_a_missing_or_circular_base_config_is_named(tmp_path: Path) -> None:
    from hdrsyn.errors import MissingFileError, UsageError
    from hdrsyn.cli.lightning import with_base_configs

    (tmp_path / "a.yaml").write_text("config: gone.yaml\n")
    with pytest.raises(MissingFileError, match=r"a\.yaml: config: gone\.yaml does not exist"):
        with_base_configs(["fit", "--config", str(tmp_path / "a.yaml")])
    (tmp_path / "a.yaml").write_text("config: b.yaml\n")
    (tmp_path / "b.yaml").write_text("config: a.yaml\n")
    with pytest.raises(UsageError, match="include it again"):
        with_base_configs(["fit", "-c", str(tmp_path / "a.yaml")])
    (tmp_path / "b.yaml").write_text("seed_everything: 1\n")
    assert with_base_configs(["fit", f"--config={tmp_path / 'a.yaml'}", "--x", "1"]) == [
        "fit", "--config", str(tmp_path / "b.yaml"), "--config", str(tmp_path / "a.yaml"), "--x", "1"]


def test_a_fresh_fit_into_a_folder_with_checkpoints_is_refused(tmp_path: Path, capsys) -> None:
    """A finished fit's checkpoints are neither mixed with a new fit's nor replaced by accident: the new fit
    is refused before it writes anything; ``--overwrite`` starts over, ``--ckpt_path last`` continues."""
    args = ["fit", *tiny_overrides(tmp_path, "global", steps=1)]
    run(args)
    folder, config = tmp_path / "global" / "checkpoints", tmp_path / "global" / "config.yaml"
    first = config.read_text()
    message = fails_with_one_message([*args, "--trainer.max_steps", "2"], capsys)
    assert f"{folder} holds the checkpoints of an earlier fit (last.ckpt, step1.ckpt)" in message
    assert "--ckpt_path last" in message and "--overwrite" in message
    assert config.read_text() == first and sorted(p.name for p in folder.iterdir()) == ["last.ckpt", "step1.ckpt"]
    run([*args, "--trainer.max_steps", "2", "--seed_everything", "1", "--overwrite"])
    assert torch.load(folder / "last.ckpt", weights_only=False)["global_step"] == 2
    assert sorted(p.name for p in folder.iterdir()) == ["last.ckpt", "step2.ckpt"] and config.read_text() != first


def test_a_fit_into_a_folder_another_fit_is_writing_is_refused(tmp_path: Path, capsys) -> None:
    """Two fits into one run folder at once: the second is refused (the first keeps its config.yaml and
    checkpoints); the claim ends with the process that held it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    args = ["fit", *tiny_overrides(tmp_path, "global", steps=10_000)]
    config = tmp_path / "global" / "config.yaml"
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen([sys.executable, "-m", "hdrsyn", *args], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    try:
        last = tmp_path / "global" / "checkpoints" / "last.ckpt"
        deadline = time.monotonic() + 300
        while not last.exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert last.exists(), "the first fit saved no checkpoint"
        written = config.read_text()
        message = fails_with_one_message([*args, "--trainer.max_steps", "1", "--overwrite"], capsys)
        assert f"{tmp_path / 'global'} is in use by another run writing there" in message
        assert config.read_text() == written and last.exists() and first.poll() is None
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=60)
    run([*args, "--trainer.max_steps", "1", "--overwrite"])
    assert torch.load(tmp_path / "global" / "checkpoints" / "last.ckpt", weights_only=False)["global_step"] == 1


def test_a_test_scene_with_an_all_zero_reference_is_named(tmp_path: Path, capsys) -> None:
    """A reference HDR that is all zero stops ``lightning test`` naming the scene: no summary with Inf / NaN
    scores is written."""
    import numpy as np

    from hdrsyn.io import read_hdr, write_hdr
    from tests.datamodules.conftest import write_vds

    root = write_vds(tmp_path / "vds")
    reference = root / "test_hdr_set" / "t05" / "target_hdr.hdr"
    write_hdr(reference, np.zeros_like(read_hdr(reference)))
    args = ["test", *tiny_overrides(tmp_path, "joint"), "--model.init_args.global_ckpt", "null",
            "--model.init_args.local_ckpt", "null", "--data.init_args.dataset", "vds",
            "--data.init_args.root", str(root)]
    message = fails_with_one_message(args, capsys)
    assert "scene 't05': its reference HDR is all zero, so it cannot be scored" in message
    assert not (tmp_path / "joint" / "test" / "summary.json").exists()


def test_a_diverged_prediction_is_named_not_averaged() -> None:
    from hdrsyn.errors import UsageError
    from lightning_modules.evaluation import HDRMetrics

    metrics = HDRMetrics("test", cvvdp=False, crf_correction=False)
    reference = torch.rand(2, 3, 32, 32) + 0.01
    prediction = reference.clone()
    prediction[1, 0, 0, 0] = float("nan")
    with pytest.raises(UsageError, match="scene 'b': the model's HDR prediction has NaN or Inf values"):
        metrics.update(prediction, reference, names=["a", "b"])
    reference[0, 1, 2, 3] = float("inf")
    with pytest.raises(UsageError, match="scene 'a': its reference HDR has NaN or Inf values"):
        metrics.update(reference, reference, names=["a", "b"])


@pytest.mark.parametrize(("content", "expected"), [
    ("trainer:\n  max_steps: [1\n", "not valid YAML at line 3, column 1"),
    ("- a\n- b\n", "a config must be a mapping of sections (trainer:, model:, data:, ...), got list"),
    ("", "got nothing"),
    ("42\n", "got int 42"),
])
def test_a_config_file_that_is_not_a_yaml_mapping_is_named(tmp_path: Path, capsys, content: str,
                                                           expected: str) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text(content)
    message = fails_with_one_message(["fit", *tiny_overrides(tmp_path, "global"), "--config", str(config)], capsys)
    assert message.startswith(f"hdrsyn fit: error: {config}: ") and expected in message


@pytest.mark.parametrize(("extra", "expected"), [
    (["--trainer.max_steps", "abc"], "--trainer.max_steps: Expected a <class 'int'>. Got value: abc"),
    (["--config", "{config}"], "Subcommand 'fit' does not accept option 'trainer.bogus_key'"),
    (["--model.class_path", "nowhere.Model"], "--model: class_path 'nowhere.Model': No module named 'nowhere'"),
    (["--config", "{missing}"], "--config {missing} does not exist"),
    (["--data.init_args.image_size", "-5"], "image_size must be >= 16, got -5"),
])
def test_a_bad_argument_or_key_is_one_line_naming_it(tmp_path: Path, capsys, extra: list[str], expected: str) -> None:
    (tmp_path / "unknown.yaml").write_text("trainer:\n  bogus_key: 1\n")
    names = {"config": tmp_path / "unknown.yaml", "missing": tmp_path / "missing.yaml"}
    args = ["fit", *tiny_overrides(tmp_path, "global"), *(item.format(**names) for item in extra)]
    assert expected.format(**names) in fails_with_one_message(args, capsys)


def test_a_killed_runs_lock_is_free_while_its_workers_linger(tmp_path: Path) -> None:
    """A run's folder lock ends with its process, even when data-loading workers it forked still live (they
    inherit open files: a ``flock`` would stay held and refuse the resume of a killed run)."""
    import subprocess
    import sys

    from hdrsyn.cli.lightning import claim_run_folders

    code = ("import os, sys, time\nfrom pathlib import Path\nfrom hdrsyn.cli.lightning import claim_run_folders\n"
            "claim_run_folders([Path(sys.argv[1])])\n"
            "if os.fork() == 0:\n    time.sleep(30)\n    os._exit(0)\n"
            "print('claimed', flush=True)\nos._exit(0)\n")
    process = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "claimed"
    process.wait(timeout=30)  # the run ended; its forked worker sleeps on
    for fd in claim_run_folders([tmp_path, tmp_path / "checkpoints"]):
        os.close(fd)
