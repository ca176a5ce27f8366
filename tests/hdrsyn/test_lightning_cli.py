"""Our LightningCLI: a bad configuration, dataset or stage checkpoint ends in one message, before training."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hdrsyn.lightning_cli import run
from lightning_modules.global_stage import GlobalStage
from tests.lightning_modules.conftest import tiny_overrides


def fails_with_one_message(args: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """Run the CLI with ``args``; assert exit status 2 and a single error line without a traceback."""
    with pytest.raises(SystemExit) as exit_info:
        run(args)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Epoch" not in err
    return next(line for line in err.splitlines() if line.startswith(f"hdrsyn {args[0]}: error: "))


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
