"""``hdrsyn package-model`` and the packaged model as the tools' default: refusals, replacing, folders."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import hdrsyn.pretrained as pretrained
from hdrsyn.cli import main as cli_main
from hdrsyn.cli.reconstruct import main as reconstruct_main
from hdrsyn.pretrained import pretrained_path, read_manifest
from hdrsyn.provenance import file_sha256


def test_reconstruct_uses_the_default_model_without_ckpt(models: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setattr(pretrained, "MODELS_DIR", models)
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(20, 235, (40, 48, 3), dtype=np.uint8)).save(tmp_path / "photo.png")
    assert reconstruct_main([str(tmp_path / "photo.png"), "-o", str(tmp_path / "out")]) == 0
    assert "using the packaged model" in capsys.readouterr().err
    assert (tmp_path / "out" / "photo.exr").is_file() and (tmp_path / "out" / "photo_ev+3.png").is_file()


def package(trained: Path, folder: Path, *options: str) -> int:
    """``hdrsyn package-model`` of ``trained`` into ``folder`` through the CLI."""
    return cli_main(["package-model", str(trained), "--folder", str(folder), *options])


def one_line_error(capsys: pytest.CaptureFixture[str], *names: str) -> str:
    """The command's stderr, checked to be one error line (no traceback) naming each of ``names``."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hdrsyn package-model: error: "), err
    for name in names:
        assert name in err, err
    return err


@pytest.mark.parametrize(("recipe", "message"), [("[1]", "--recipe must be a JSON object"),
                                                 ("{steps: 3", "--recipe is not valid JSON")])
def test_package_model_cli_refuses_bad_recipe(trained: Path, tmp_path: Path, capsys, recipe: str, message: str
                                              ) -> None:
    assert package(trained, tmp_path, "--name", "x", "--recipe", recipe) == 2
    one_line_error(capsys, message)
    assert not list(tmp_path.iterdir())
    assert package(trained, tmp_path, "--name", "x", "--recipe", '{"a": 1}') == 0
    assert json.loads((tmp_path / "models.json").read_text())["default"] == "x"


def test_packaging_a_taken_name_is_refused_and_the_model_kept(trained: Path, models: Path, capsys) -> None:
    before = {p.name: p.read_bytes() for p in models.iterdir()}
    assert package(trained, models, "--name", "tiny-v1", "--recipe", '{"steps": 9}') == 2
    one_line_error(capsys, "--name 'tiny-v1'", str(models / "tiny-v1.pt"), "--replace")
    assert {p.name: p.read_bytes() for p in models.iterdir()} == before
    assert pretrained_path(folder=models) == models / "tiny-v1.pt"


def test_replace_keeps_the_old_file_and_records_it(trained: Path, models: Path) -> None:
    old_sha256 = file_sha256(models / "tiny-v1.pt")
    assert package(trained, models, "--name", "tiny-v1", "--replace", "--recipe", '{"steps": 9}') == 0
    manifest = read_manifest(models)
    kept = f"tiny-v1.{old_sha256[:8]}.pt"
    assert manifest["replaced"] == [{"name": "tiny-v1", "file": kept, "sha256": old_sha256}]
    assert file_sha256(models / kept) == old_sha256
    assert torch.load(pretrained_path(folder=models), weights_only=True)["recipe"] == {"steps": 9}
    assert sorted(p.name for p in models.iterdir()) == sorted(["models.json", "tiny-v1.pt", kept])


def test_a_stray_file_of_that_name_is_refused_too(trained: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "mine.pt").write_bytes(b"someone's file")
    assert package(trained, tmp_path, "--name", "mine") == 2
    one_line_error(capsys, "mine.pt", "--replace")
    assert (tmp_path / "mine.pt").read_bytes() == b"someone's file" and not (tmp_path / "models.json").exists()


@pytest.mark.parametrize("name", ["../x", "a/b", "..", "x..y", ".hidden", "-x", "", "models", "Models", "a b",
                                  "x\\y"])
def test_bad_model_names_are_refused(trained: Path, models: Path, capsys, name: str) -> None:
    before = sorted(p.name for p in models.parent.rglob("*"))
    assert package(trained, models, f"--name={name}") == 2
    one_line_error(capsys, f"--name {name!r}")
    assert sorted(p.name for p in models.parent.rglob("*")) == before
    assert pretrained_path(folder=models) == models / "tiny-v1.pt"


def test_not_default_needs_a_manifest(trained: Path, tmp_path: Path, capsys) -> None:
    assert package(trained, tmp_path / "new", "--name", "x", "--not-default") == 2
    one_line_error(capsys, "--not-default", str(tmp_path / "new" / "models.json"))
    assert not (tmp_path / "new").exists()


def test_not_default_keeps_the_default(trained: Path, models: Path) -> None:
    assert package(trained, models, "--name", "second", "--not-default") == 0
    manifest = read_manifest(models)
    assert manifest["default"] == "tiny-v1" and set(manifest["models"]) == {"tiny-v1", "second"}


def test_a_read_only_models_folder_is_named_with_the_way_out(trained: Path, models: Path, capsys, monkeypatch
                                                              ) -> None:
    """The shipped folder inside site-packages is often read-only (root may write anyway: simulated here)."""
    real_access = pretrained.os.access
    monkeypatch.setattr(pretrained.os, "access", lambda path, mode: Path(path) != models and real_access(path, mode))
    assert package(trained, models, "--name", "new") == 2
    one_line_error(capsys, f"cannot write to {models}", "read-only", "--folder")
    assert sorted(p.name for p in models.iterdir()) == ["models.json", "tiny-v1.pt"]


def test_a_write_refused_midway_leaves_the_folder_as_it_was(trained: Path, models: Path, capsys, monkeypatch
                                                            ) -> None:
    def refused(obj, stream) -> None:  # noqa: ANN001
        raise PermissionError(13, "Permission denied", str(stream))

    monkeypatch.setattr(pretrained.torch, "save", refused)
    before = {p.name: p.read_bytes() for p in models.iterdir()}
    assert package(trained, models, "--name", "tiny-v1", "--replace") == 2
    one_line_error(capsys, f"cannot write to {models}", "--folder")
    assert {p.name: p.read_bytes() for p in models.iterdir()} == before


@pytest.mark.parametrize("content", ["{not json", '["a"]'])
def test_a_damaged_manifest_is_named(trained: Path, models: Path, capsys, content: str) -> None:
    (models / "models.json").write_text(content)
    assert package(trained, models, "--name", "new") == 2
    one_line_error(capsys, str(models / "models.json"))
    assert not (models / "new.pt").exists()


def test_a_missing_checkpoint_or_a_file_as_folder_is_named(trained: Path, tmp_path: Path, capsys) -> None:
    assert package(tmp_path / "none.ckpt", tmp_path / "m", "--name", "x") == 2
    one_line_error(capsys, str(tmp_path / "none.ckpt"))
    (tmp_path / "file").write_text("x")
    assert package(trained, tmp_path / "file", "--name", "x") == 2
    one_line_error(capsys, f"--folder {tmp_path / 'file'}")
