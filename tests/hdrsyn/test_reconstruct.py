"""``hdrsyn reconstruct``: checkpoint loading, any input size / format, tiling, file handling."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from hdrsyn.inference import reconstruct_image
from hdrsyn.io import read_hdr, read_ldr
from hdrsyn.model_registry import CheckpointError, load_reconstructor
from hdrsyn.reconstruct import main
from hdrsyn.tiling import ramp, run_tiled, tile_spans
from lightning_modules.diffhdrsyn import GlobalStage, JointStage, stack_reconstructor
from tests.helpers import randomize_heads

EVS = ["-3", "-2", "-1", "+0", "+1", "+2", "+3"]


def save_checkpoint(model: pl.LightningModule, path: Path, cli: bool = True) -> Path:
    """Save ``model`` as Lightning does: LightningCLI adds ``_class_path`` / ``_instantiator`` to the hparams."""
    hparams = dict(model.hparams)
    if cli:
        cls = type(model)
        hparams = {"_class_path": f"{cls.__module__}.{cls.__qualname__}", **hparams,
                   "_instantiator": "pytorch_lightning.cli.instantiate_module"}
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("cobi.")}
    torch.save({"epoch": 0, "global_step": 0, "pytorch-lightning_version": pl.__version__, "state_dict": state,
                "hparams_name": "kwargs", "hyper_parameters": hparams}, path)
    return path


@pytest.fixture(scope="module")
def joint() -> JointStage:
    """A tiny joint stage with random head weights: zero heads would make the generator the pointwise
    analytic shift, which any tiling, checkpoint or weight mix-up reproduces."""
    torch.manual_seed(0)
    model = JointStage(width="tiny", lambda_cobi=0.0).eval()
    randomize_heads(model.generator)
    return model


@pytest.fixture(scope="module")
def ckpt(joint: JointStage, tmp_path_factory) -> Path:
    return save_checkpoint(joint, tmp_path_factory.mktemp("ckpt") / "joint.ckpt")


@pytest.fixture()
def photo() -> np.ndarray:
    """A 70x100 (W x H) uint8 RGB picture with edges and smooth gradients."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:100, 0:70]
    image = np.stack([x / 69, y / 99, ((x // 10 + y // 10) % 2) * 0.6 + 0.2], axis=-1)
    return np.clip(image * 255 + rng.normal(0, 4, image.shape), 0, 255).astype(np.uint8)


def test_odd_size_comes_back_at_input_size(ckpt: Path, photo: np.ndarray) -> None:
    model = load_reconstructor(ckpt)
    ldr = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    out = reconstruct_image(model, ldr)
    assert out["stack"].shape == (7, 3, 100, 70) and out["radiance"].shape == (3, 100, 70)
    assert out["preview"].shape == (3, 100, 70) and out["inverse_crf"].shape == (3, 256)
    torch.testing.assert_close(out["stack"][3], ldr)  # EV 0 is the input itself
    assert torch.isfinite(out["radiance"]).all() and (out["radiance"] > 0).all()


def test_checkpoint_weights_equal_the_modules(ckpt: Path, joint: JointStage, photo: np.ndarray) -> None:
    """What a predict_step would run (the module's own generator) equals what the loaded checkpoint runs."""
    ldr = torch.from_numpy(photo).permute(2, 0, 1).float() / 255
    ours = reconstruct_image(stack_reconstructor(joint.generator, joint.hparams.hdr_sampling), ldr)
    loaded = reconstruct_image(load_reconstructor(ckpt), ldr)
    for key in ("stack", "radiance"):
        torch.testing.assert_close(ours[key], loaded[key], rtol=0, atol=0)


def test_plain_trainer_checkpoint_is_identified_by_its_hyperparameters(joint: JointStage, tmp_path: Path) -> None:
    model = load_reconstructor(save_checkpoint(joint, tmp_path / "plain.ckpt", cli=False))
    assert model.class_path == "lightning_modules.diffhdrsyn.JointStage" and model.evs == tuple(range(-3, 4))


@pytest.mark.parametrize("cli", [True, False])
def test_global_stage_checkpoint_is_refused(tmp_path: Path, cli: bool) -> None:
    path = save_checkpoint(GlobalStage(width="tiny"), tmp_path / "global.ckpt", cli=cli)
    with pytest.raises(CheckpointError, match="GlobalStage checkpoint: a training stage .* joint stage"):
        load_reconstructor(path)


def test_cli_refuses_global_stage_clearly(tmp_path: Path, photo: np.ndarray, capsys) -> None:
    path = save_checkpoint(GlobalStage(width="tiny"), tmp_path / "global.ckpt")
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(path), "-o", str(tmp_path / "out")]) == 2
    assert "GlobalStage checkpoint" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_cli_reads_grey_rgba_16_bit_and_rotated_inputs(ckpt: Path, photo: np.ndarray, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    cv2.imwrite(str(inputs / "grey.png"), photo[..., 0])
    cv2.imwrite(str(inputs / "rgba.png"), np.dstack([photo, np.full(photo.shape[:2], 128, np.uint8)]))
    cv2.imwrite(str(inputs / "deep.tif"), photo.astype(np.uint16) * 257)
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90 degrees clockwise to display
    Image.fromarray(photo).save(inputs / "rotated.jpg", exif=exif)
    out = tmp_path / "out"
    assert main([str(inputs), "--ckpt", str(ckpt), "-o", str(out), "--hdr-format", "both"]) == 0
    for name in ("grey.png", "rgba.png", "deep.tif", "rotated.jpg"):
        stem, shape = Path(name).stem, read_ldr(inputs / name).shape
        assert shape[:2] == ((70, 100) if stem == "rotated" else (100, 70))  # EXIF orientation applied
        for suffix in (".exr", ".hdr"):
            assert read_hdr(out / f"{stem}{suffix}").shape == shape
        for ev in EVS:
            assert read_ldr(out / f"{stem}_ev{ev}.png").shape == shape
        assert read_ldr(out / f"{stem}_preview.png").shape == shape
        assert (out / f"{stem}_crf.png").stat().st_size > 1000
    np.testing.assert_array_equal(read_ldr(out / "grey_ev+0.png"), read_ldr(inputs / "grey.png"))  # EV 0 = input
    np.testing.assert_allclose(read_ldr(out / "deep_ev+0.png"), read_ldr(inputs / "deep.tif"), atol=0.5 / 255 + 1e-6)


def test_cli_never_overwrites_without_flag(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    out = tmp_path / "out"
    out.mkdir()
    (out / "a_preview.png").write_bytes(b"mine")
    args = [str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(out)]
    assert main(args) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert (out / "a_preview.png").read_bytes() == b"mine" and not (out / "a.exr").exists()
    assert main([*args, "--overwrite"]) == 0
    assert read_ldr(out / "a_preview.png").shape == (100, 70, 3)


def test_cli_one_bad_file_does_not_stop_the_others(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "good.png"), photo)
    files = [str(tmp_path / name) for name in ("bad.png", "missing.jpg", "good.png")]
    assert main([*files, "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "bad.png" in err and "missing.jpg" in err and "2 of 3 file(s) failed" in err
    assert read_hdr(tmp_path / "out" / "good.exr").shape == (100, 70, 3)
    assert not list((tmp_path / "out").glob("bad*")) and not list((tmp_path / "out").glob(".*"))


def test_tile_spans_start_on_the_multiple_and_ramps_blend() -> None:
    spans = tile_spans(352, 128, 32, 32)
    assert [s.start for s in spans] == [0, 96, 192, 224] and spans[-1].stop == 352
    total = torch.zeros(352)
    for i, span in enumerate(spans):
        weight = ramp(spans, i, torch.device("cpu"))
        assert (weight > 0).all() and len(weight) == 128
        total[span.start : span.stop] += weight
    assert (total > 0.99).all()
    with pytest.raises(ValueError, match="tile=100 must be a positive multiple of 32"):
        tile_spans(352, 100, 32, 32)


def test_tiling_is_exact_for_a_pointwise_network() -> None:
    """Blending weights are normalised and tiles placed right: a per-pixel network is unchanged by tiling."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 1), torch.nn.Tanh(), torch.nn.Conv2d(8, 5, 1))
    image = torch.rand(1, 3, 150, 97)
    with torch.no_grad():
        torch.testing.assert_close(run_tiled(net, image, 32, 64, 32), net(image), rtol=0, atol=1e-6)


def test_tiled_equals_untiled_within_tolerance(ckpt: Path) -> None:
    """A 192x160 scene run whole and as 2x2 tiles of 128 (rows 0-128 / 64-192, columns 0-128 / 32-160).

    Tiles differ from the whole image through per-tile instance-norm statistics and the context lost near
    tile borders. Measured on this tiny model (random heads): stack |difference| mean 0.006, 99.9th
    percentile 0.047, max 0.08 (at the image border, not at tile joins). No seam: across the tile edges
    the difference map steps by at most 0.022 between neighbouring pixels, inside the blending zones by at
    most 0.056, less than outside them (0.060). The HDR merge re-solves the CRF and
    amplifies the stack differences of random weights (scale-aligned median |d ln E| 0.27), so the radiance
    is only checked for validity here.
    """
    model = load_reconstructor(ckpt)
    y, x = torch.meshgrid(torch.linspace(0, 1, 192), torch.linspace(0, 1, 160), indexing="ij")
    ldr = torch.stack([x, y, (torch.sin(12 * x) * torch.cos(9 * y) + 1) / 2]) * 0.9 + 0.05
    whole = reconstruct_image(model, ldr)
    tiled = reconstruct_image(model, ldr, tile=128, overlap=64)
    signed = tiled["stack"] - whole["stack"]
    assert 0 < signed.abs().mean() < 0.01 and signed.abs().flatten().quantile(0.999) < 0.08
    step_x = signed.diff(dim=-1).abs().amax(dim=(0, 1))  # (H, W - 1): step between columns c and c + 1
    step_y = signed.diff(dim=-2).abs().amax(dim=(0, 1))
    assert max(step_x[:, [31, 127]].max(), step_y[[63, 127]].max()) < 0.03  # tile edges
    outside_x, outside_y = step_x.clone(), step_y.clone()
    outside_x[:, 31:128], outside_y[63:128] = 0, 0
    zones = max(step_x[:, 31:128].max(), step_y[63:128].max())
    assert zones < max(outside_x.max(), outside_y.max())  # blending zones: no larger steps than elsewhere
    assert torch.isfinite(tiled["radiance"]).all() and (tiled["radiance"] > 0).all()


@pytest.mark.parametrize(
    ("module", "output"),
    [
        ("lightning_modules.baselines.expandnet.ExpandNetBaseline", "radiance"),
        ("lightning_modules.baselines.hdrcnn.HDRCNNBaseline", "radiance"),
        ("lightning_modules.baselines.deep_recursive_hdri.DeepRecursiveHDRIBaseline", "stack"),
    ],
)
def test_baseline_checkpoints_reconstruct(module: str, output: str, tmp_path: Path) -> None:
    """Every trained baseline's checkpoint loads with its own weights and reconstructs an odd-sized photo."""
    import importlib

    module_name, name = module.rsplit(".", 1)
    cls = getattr(importlib.import_module(module_name), name)
    torch.manual_seed(0)
    model = cls(base_channels=4) if "base_channels" in cls.__init__.__code__.co_varnames else cls(channels=8)
    path = save_checkpoint(model, tmp_path / "baseline.ckpt")
    reconstructor = load_reconstructor(path)
    assert reconstructor.output == output and reconstructor.class_path == module
    saved = model.state_dict()
    for key, value in reconstructor.network.state_dict().items():
        original = next(saved[p + key] for p in ("", "net.", "generator.") if p + key in saved)
        assert torch.equal(value, original), key
    ldr = torch.rand(3, 70, 50)
    result = reconstruct_image(reconstructor, ldr)
    assert result["radiance"].shape == (3, 70, 50) and torch.isfinite(result["radiance"]).all()


def test_cli_names_a_checkpoint_with_nan_weights(joint: JointStage, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    path = save_checkpoint(joint, tmp_path / "diverged.ckpt")
    checkpoint = torch.load(path, weights_only=False)
    next(v for v in checkpoint["state_dict"].values() if v.is_floating_point()).fill_(float("nan"))
    torch.save(checkpoint, path)
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{path}: 1 weight tensor(s) hold NaN or Inf" in err and "[0, 1]" not in err
    assert not (tmp_path / "out").exists()


def test_cli_names_a_checkpoint_of_an_unknown_width(joint: JointStage, photo: np.ndarray, tmp_path: Path,
                                                   capsys) -> None:
    path = save_checkpoint(joint, tmp_path / "huge.ckpt")
    checkpoint = torch.load(path, weights_only=False)
    checkpoint["hyper_parameters"]["width"] = "huge"
    torch.save(checkpoint, path)
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(path), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "unknown width preset width='huge'" in err and "Traceback" not in err


@pytest.mark.parametrize("value", [0, 255])
def test_cli_refuses_a_black_or_white_photo(ckpt: Path, tmp_path: Path, capsys, value: int) -> None:
    cv2.imwrite(str(tmp_path / "flat.png"), np.full((40, 30, 3), value, np.uint8))
    assert main([str(tmp_path / "flat.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 1
    assert "nothing to reconstruct" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_outputs_written_meanwhile_by_another_run_are_not_mixed(ckpt: Path, photo: np.ndarray, tmp_path: Path,
                                                               monkeypatch, capsys) -> None:
    """Two runs into one folder with the same stem: the one that commits second is refused as a whole."""
    import hdrsyn.inference as inference

    cv2.imwrite(str(tmp_path / "x.png"), photo)
    out = tmp_path / "out"
    original = inference.reconstruct_image

    def other_run_finishes_first(*args, **kwargs) -> dict:  # noqa: ANN002, ANN003
        result = original(*args, **kwargs)
        out.mkdir()
        (out / "x_preview.png").write_bytes(b"the other run's")
        return result

    monkeypatch.setattr(inference, "reconstruct_image", other_run_finishes_first)
    assert main([str(tmp_path / "x.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["x_preview.png"]
    assert (out / "x_preview.png").read_bytes() == b"the other run's"


def test_work_size_adds_the_models_corrections_to_the_full_size_analytic_stack() -> None:
    """Untrained (= analytic stack) the guided run is exact; a model's corrections are upsampled onto it."""
    from hdrsyn.inference import guided_stack
    from ops.exposure import exposure_stack

    ldr = torch.rand(3, 96, 80, generator=torch.Generator().manual_seed(0))
    untrained = stack_reconstructor(JointStage(width="tiny", lambda_cobi=0.0).generator.eval())
    analytic = exposure_stack(ldr[None], untrained.evs)[0]
    with torch.inference_mode():
        assert torch.allclose(guided_stack(untrained, ldr, 32), analytic, atol=1e-6)
    model = stack_reconstructor(JointStage(width="tiny", lambda_cobi=0.0).generator.eval())
    with torch.no_grad():
        for parameter in model.network.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    small = torch.nn.functional.interpolate(ldr[None], size=(40, 33), mode="area")[0]
    with torch.inference_mode():
        guided = guided_stack(model, ldr, 40)
        correction = reconstruct_image(model, small)["stack"] - exposure_stack(small[None], model.evs)[0]
    assert guided.shape == (7, 3, 96, 80) and float(correction.abs().mean()) > 1e-3
    expected = analytic + torch.nn.functional.interpolate(correction, size=(96, 80), mode="bilinear")
    assert torch.allclose(guided, expected.clamp(0, 1), atol=1e-5)
    assert torch.equal(reconstruct_image(model, ldr, work_size=96)["stack"], reconstruct_image(model, ldr)["stack"])
    assert torch.equal(reconstruct_image(model, ldr, work_size=40)["stack"], guided)
