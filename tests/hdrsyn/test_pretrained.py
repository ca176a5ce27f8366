"""Packaged models (``hdrsyn.pretrained``): packaging, verification on load, the default for the tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import hdrsyn.pretrained as pretrained
from hdrsyn.errors import MissingFileError, UsageError
from hdrsyn.inference import reconstruct_image
from hdrsyn.model_registry import CheckpointError, load_reconstructor
from hdrsyn.pretrained import load_pretrained, package_model, pretrained_path, read_manifest
from hdrsyn.provenance import file_sha256
from lightning_modules.diffhdrsyn import GlobalStage, JointStage
from tests.hdrsyn.conftest import save_checkpoint


def test_packaged_model_reconstructs_as_its_checkpoint(trained: Path, models: Path) -> None:
    manifest = read_manifest(models)
    assert manifest["default"] == "tiny-v1" and manifest["models"]["tiny-v1"]["file"] == "tiny-v1.pt"
    raw = torch.load(models / "tiny-v1.pt", weights_only=True)  # tensors and plain values only
    assert raw["format"] == "hdrsyn-model" and raw["recipe"] == {"steps": 3}
    assert {v.dtype for v in raw["state_dict"].values() if v.is_floating_point()} == {torch.float16}
    ldr = torch.rand(3, 40, 56, generator=torch.Generator().manual_seed(1))
    original = reconstruct_image(load_reconstructor(trained), ldr)
    packaged = load_pretrained(folder=models)
    assert next(packaged.network.parameters()).dtype == torch.float32
    result = reconstruct_image(packaged, ldr)
    assert (result["stack"] - original["stack"]).abs().max() < 2e-3  # half-precision storage
    log_ratio = result["radiance"].clamp_min(1e-6).log() - original["radiance"].clamp_min(1e-6).log()
    # A merged HDR image's scale is arbitrary: the merge pins it at the response's mid-point, which moves by
    # about 1 % with these random weights' stacks (few mid-tones); the image itself must agree to 0.2 %.
    scale = log_ratio.median()
    assert abs(float(scale)) < 0.02
    assert float((log_ratio - scale).abs().median()) < 2e-3


def test_a_model_packaged_before_the_method_folder_loads(models: Path, this_tree_only: None) -> None:
    """A packaged file names the class path of its time (``lightning_modules.joint_stage.JointStage`` before
    ``lightning_modules/diffhdrsyn/``): it still loads, as the current class."""
    path = models / "tiny-v1.pt"
    packaged = torch.load(path, weights_only=True)
    packaged["hyper_parameters"]["_class_path"] = "lightning_modules.joint_stage.JointStage"
    torch.save(packaged, path)
    manifest = read_manifest(models)
    manifest["models"]["tiny-v1"]["sha256"] = file_sha256(path)
    (models / "models.json").write_text(json.dumps(manifest))
    assert load_pretrained(folder=models).class_path == "lightning_modules.diffhdrsyn.JointStage"


def test_a_changed_file_is_refused_naming_it(models: Path) -> None:
    path = models / "tiny-v1.pt"
    data = bytearray(path.read_bytes())
    data[-100] ^= 1
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match=r"tiny-v1\.pt is damaged or was replaced: its sha256 is"):
        load_pretrained(folder=models)


def test_missing_unknown_and_unpackable_models_are_named(models: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"no packaged model 'other'; packaged: \['tiny-v1'\]"):
        pretrained_path("other", models)
    (models / "tiny-v1.pt").unlink()
    with pytest.raises(MissingFileError, match=r"tiny-v1\.pt is missing"):
        pretrained_path(folder=models)
    with pytest.raises(MissingFileError, match="has no packaged model"):
        pretrained_path(folder=tmp_path / "nothing")
    stage = save_checkpoint(GlobalStage(width="tiny"), tmp_path / "global.ckpt")
    with pytest.raises(CheckpointError, match="training stage"):
        package_model(stage, "global", tmp_path / "out")
    assert not (tmp_path / "out" / "global.pt").exists()


def test_joint_stage_starts_from_a_packaged_model(trained: Path, models: Path, monkeypatch) -> None:
    monkeypatch.setattr(pretrained, "MODELS_DIR", models)
    joint = JointStage(width="tiny", lambda_cobi=0.0, pretrained="default")
    joint.configure_model()
    reference = torch.load(trained, weights_only=False)["state_dict"]
    for key, value in joint.generator.state_dict().items():
        assert torch.allclose(value, reference[f"generator.{key}"].half().float()), key
    with pytest.raises(UsageError, match="pretrained and global_ckpt / local_ckpt both"):
        JointStage(width="tiny", pretrained="default", global_ckpt=str(trained))
    with pytest.raises(UsageError, match="was built with width='tiny'; this model has width='cpu'"):
        JointStage(width="cpu", lambda_cobi=0.0, pretrained="default").configure_model()


def test_the_shipped_model_verifies_and_reconstructs_a_real_photo() -> None:
    """The packaged default model: listed, verified (sha256), <= 20 MB; on a real bundled photograph
    (Memorial Church, 2 % clipped) its HDR is finite and non-negative, and its preview keeps the photo's
    structure: SSIM of the preview's luminance to the photo's >= 0.75 (the x^2.2 expansion's preview: 0.94)."""
    from torchmetrics.functional.image import structural_similarity_index_measure as ssim

    from hdrsyn.assets_index import memorial_stack
    from hdrsyn.io import read_ldr
    from ops.tonemap import luminance

    path = pretrained_path()
    assert path.stat().st_size <= 20e6
    model = load_pretrained()
    assert model.output == "stack" and model.evs == (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
    files, _ = memorial_stack()
    photo = torch.from_numpy(read_ldr(files[12])).permute(2, 0, 1)
    result = reconstruct_image(model, photo)
    assert bool(torch.isfinite(result["radiance"]).all()) and float(result["radiance"].min()) >= 0
    assert result["stack"].shape == (7, *photo.shape)
    score = ssim(luminance(result["preview"][None]), luminance(photo[None]), data_range=1.0)
    assert float(score) >= 0.75


@torch.no_grad()
def test_the_shipped_model_leaves_no_band_along_the_border() -> None:
    """On a flat grey image every generated exposure is flat: at most 0.01 from its median anywhere. Without
    the generator's reflected margin the zero-padded border shows as bands up to 0.07 (EV -3; 0.05 at +3)."""
    generator = load_pretrained().network.generator
    flat = torch.full((1, 3, 128, 128), 0.3)

    def band(margin: int) -> float:
        generator.margin = margin
        stack = generator(flat)["stack"][0].mean(dim=1)  # (7, H, W) grey
        return float((stack - stack.flatten(1).median(dim=1).values[:, None, None]).abs().max())

    assert band(32) < 0.01
    assert band(0) > 0.05


def test_lightning_predict_uses_the_packaged_model_without_a_checkpoint(tmp_path: Path) -> None:
    """``lightning predict --config experiments/joint.yaml`` on a fresh install (no stage checkpoints)."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "WANDB_MODE": "disabled", "OMP_NUM_THREADS": "1",  # this tree's code, run from tmp_path
           "PYTHONPATH": os.pathsep.join([str(root), *filter(None, [os.environ.get("PYTHONPATH")])])}
    result = subprocess.run(
        [sys.executable, "-m", "hdrsyn", "predict", "--config", str(root / "experiments" / "joint.yaml"),
         "--data.init_args.image_size", "64", "--data.init_args.sample.views_per_scene", "1",
         "--data.init_args.num_workers", "0", "--trainer.logger", "false",
         "--model.init_args.output_dir", str(tmp_path / "out")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "no --ckpt_path: using the packaged model" in result.stderr
    assert "lab_000.exr" in {p.name for p in (tmp_path / "out" / "predict").glob("*.exr")}
