"""``hdrsyn export``: the generator as ONNX, run by ONNX Runtime against PyTorch."""

from __future__ import annotations

from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
import pytorch_lightning as pl
import torch

from hdrsyn import onnx_graph
from hdrsyn.cli.export_onnx import main
from hdrsyn.model_registry import load_reconstructor
from lightning_modules.diffhdrsyn import GlobalStage, JointStage
from tests.helpers import randomize_heads

#: Measured: 1.0e-6 (float32 rounding of a different operation order).
TOLERANCE = 1e-5


def save_checkpoint(model: pl.LightningModule, path: Path) -> Path:
    """Save ``model`` as a LightningCLI run does (hparams with ``_class_path``)."""
    cls = type(model)
    hparams = {"_class_path": f"{cls.__module__}.{cls.__qualname__}", **dict(model.hparams)}
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("cobi.")}
    torch.save({"state_dict": state, "hyper_parameters": hparams, "pytorch-lightning_version": pl.__version__}, path)
    return path


@pytest.fixture(scope="module")
def ckpt(tmp_path_factory) -> Path:
    """A tiny joint stage with random heads (zero heads would reduce the network to the analytic shift)."""
    torch.manual_seed(0)
    joint = JointStage(width="tiny", lambda_cobi=0.0)
    randomize_heads(joint.generator)
    return save_checkpoint(joint, tmp_path_factory.mktemp("ckpt") / "joint.ckpt")


@pytest.fixture(scope="module")
def exported(ckpt: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "generator.onnx"
    assert main(["--ckpt", str(ckpt), "-o", str(path), "--size", "64"]) == 0
    return path


def test_onnx_matches_pytorch_on_other_sizes_and_batches(exported: Path, ckpt: Path) -> None:
    model = load_reconstructor(ckpt)
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    torch.manual_seed(1)
    for shape in [(1, 3, 96, 64), (2, 3, 64, 128)]:
        ldr = torch.rand(shape)
        (ours,) = session.run(None, {"ldr": ldr.numpy()})
        with torch.inference_mode():
            theirs = model.network(ldr)
        assert ours.shape == (shape[0], 7, *shape[1:])
        torch.testing.assert_close(torch.from_numpy(ours), theirs, rtol=0, atol=TOLERANCE)


def test_onnx_keeps_canny_hysteresis_as_a_loop_and_carries_metadata(exported: Path) -> None:
    proto = onnx.load(str(exported))
    assert sum(node.op_type == "Loop" for node in proto.graph.node) == 6  # one Canny per recursion step
    metadata = {prop.key: prop.value for prop in proto.metadata_props}
    assert metadata["evs"] == "-3,-2,-1,0,1,2,3" and metadata["size_multiple"] == "32"
    assert metadata["class_path"] == "lightning_modules.diffhdrsyn.JointStage"


def test_export_never_overwrites_without_flag(exported: Path, ckpt: Path, capsys) -> None:
    before = exported.read_bytes()
    assert main(["--ckpt", str(ckpt), "-o", str(exported)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err and exported.read_bytes() == before


def test_export_refuses_global_stage(tmp_path: Path, capsys) -> None:
    path = save_checkpoint(GlobalStage(width="tiny"), tmp_path / "global.ckpt")
    assert main(["--ckpt", str(path), "-o", str(tmp_path / "g.onnx")]) == 2
    assert "GlobalStage checkpoint" in capsys.readouterr().err and not (tmp_path / "g.onnx").exists()


def test_a_file_that_fails_the_runtime_check_is_not_left(ckpt: Path, tmp_path: Path, monkeypatch, capsys) -> None:
    def mismatch(*args) -> float:  # noqa: ANN002
        raise RuntimeError("ONNX output (1, 7, 3, 64, 96) differs from PyTorch's")

    monkeypatch.setattr(onnx_graph, "export_onnx", lambda model, path, size: Path(path).write_bytes(b"onnx"))
    monkeypatch.setattr(onnx_graph, "compare_onnx", mismatch)
    assert main(["--ckpt", str(ckpt), "-o", str(tmp_path / "g.onnx"), "--size", "64"]) == 2
    assert "differs from PyTorch" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == [], "neither the file nor a temporary is left"


@pytest.mark.parametrize(("case", "expected"), [
    ("size", "--size must be a positive multiple of 32, got -32"),
    ("folder-output", "is a folder; name the .onnx file to write"),
    ("folder-ckpt", "is a folder; pass a checkpoint file"),
])
def test_bad_arguments_are_one_line_before_any_work(tmp_path: Path, case: str, expected: str, capsys) -> None:
    (tmp_path / "dir.onnx").mkdir()
    argv = {"size": ["--ckpt", str(tmp_path / "missing.ckpt"), "-o", str(tmp_path / "g.onnx"), "--size", "-32"],
            "folder-output": ["--ckpt", str(tmp_path), "-o", str(tmp_path / "dir.onnx")],
            "folder-ckpt": ["--ckpt", str(tmp_path), "-o", str(tmp_path / "g.onnx")]}[case]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert expected in err and err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.onnx"]
