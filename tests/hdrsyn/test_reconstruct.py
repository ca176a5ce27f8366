"""``hdrsyn reconstruct``: checkpoint loading, any input size / format, tiling, file handling."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
import numpy as np
import pytest
import pytorch_lightning as pl
import torch
from PIL import Image

from hdrsyn.inference import LEDGER_NAME, reconstruct_image
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
    assert main([*args, "--overwrite"]) == 1, "--overwrite replaces earlier outputs, not a file of the user's"
    assert "a_preview.png: not written by an earlier hdrsyn reconstruct run" in capsys.readouterr().err
    assert (out / "a_preview.png").read_bytes() == b"mine" and not (out / "a.exr").exists()
    (out / "a_preview.png").unlink()
    assert main(args) == 0
    assert read_ldr(out / "a_preview.png").shape == (100, 70, 3)
    (out / "a.exr").touch()  # changed since the run wrote it
    assert main([*args, "--overwrite"]) == 1 and "a.exr: not written by an earlier" in capsys.readouterr().err
    (out / "a.exr").unlink()
    assert main([*args, "--overwrite"]) == 0, "its own outputs, unchanged, are replaced"
    assert read_hdr(out / "a.exr").shape == (100, 70, 3)


def test_overwrite_never_replaces_a_real_bracket_named_like_an_output(ckpt: Path, photo: np.ndarray,
                                                                      tmp_path: Path, capsys) -> None:
    """The issue's case: ``scene.png`` beside the user's real ``scene_ev+1.png``, reconstructed into that folder."""
    cv2.imwrite(str(tmp_path / "scene.png"), photo)
    cv2.imwrite(str(tmp_path / "scene_ev+1.png"), np.clip(photo.astype(int) * 2, 0, 255).astype(np.uint8))
    bracket = (tmp_path / "scene_ev+1.png").read_bytes()
    assert main([str(tmp_path / "scene.png"), "--ckpt", str(ckpt), "-o", str(tmp_path), "--overwrite"]) == 1
    assert "scene_ev+1.png: not written by an earlier hdrsyn reconstruct run" in capsys.readouterr().err
    assert (tmp_path / "scene_ev+1.png").read_bytes() == bracket
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene.png", "scene_ev+1.png"]


def test_cli_one_bad_file_does_not_stop_the_others(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.png").write_bytes(b"not a png")
    cv2.imwrite(str(tmp_path / "good.png"), photo)
    files = [str(tmp_path / name) for name in ("bad.png", "missing.jpg", "good.png")]
    assert main([*files, "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "bad.png" in err and "missing.jpg" in err and "2 of 3 file(s) failed" in err
    assert read_hdr(tmp_path / "out" / "good.exr").shape == (100, 70, 3)
    assert not list((tmp_path / "out").glob("bad*"))
    assert [p.name for p in (tmp_path / "out").glob(".*")] == [LEDGER_NAME], "no temporary is left"


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


# --- inputs and outputs never meet ------------------------------------------------------------------------


def one_line_error(capsys) -> str:
    """stderr of a refused command: exactly one line, no traceback."""
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    return err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (hidden ones too) and its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture()
def bracket(photo: np.ndarray, tmp_path: Path) -> Path:
    """A folder with a photo ``scene.png`` and the user's real +1 EV photo of it, ``scene_ev+1.png``."""
    folder = tmp_path / "photos"
    folder.mkdir()
    cv2.imwrite(str(folder / "scene.png"), photo)
    cv2.imwrite(str(folder / "scene_ev+1.png"), np.clip(photo.astype(int) * 2, 0, 255).astype(np.uint8))
    return folder


def test_cli_refuses_the_input_folder_as_output_folder(ckpt: Path, bracket: Path, tmp_path: Path, capsys) -> None:
    """The issue's run: DIR -o DIR --overwrite would replace the real +1 EV photo; also through a link to DIR."""
    before = snapshot(bracket)
    (tmp_path / "link").symlink_to(bracket)
    for out in (bracket, tmp_path / "link"):
        assert main([str(bracket), "-o", str(out), "--overwrite", "--ckpt", str(ckpt)]) == 2
        err = one_line_error(capsys)
        assert f"-o {out} is the input folder {bracket}" in err and "choose another -o" in err
    assert snapshot(bracket) == before


def test_cli_refuses_an_output_that_would_replace_an_input(ckpt: Path, bracket: Path, capsys) -> None:
    """Both photos named: scene.png's +1 EV output is the other input; refused before anything runs."""
    before = snapshot(bracket)
    files = [str(bracket / "scene.png"), str(bracket / "scene_ev+1.png")]
    assert main([*files, "-o", str(bracket), "--overwrite", "--ckpt", str(ckpt)]) == 2
    err = one_line_error(capsys)
    assert f"{bracket / 'scene_ev+1.png'}, an output of {bracket / 'scene.png'}, would replace the input" in err
    assert snapshot(bracket) == before


def test_cli_refuses_two_photos_writing_the_same_outputs(ckpt: Path, photo: np.ndarray, tmp_path: Path,
                                                         capsys) -> None:
    for name in ("a.png", "sub/a.jpg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        cv2.imwrite(str(tmp_path / name), photo)
    args = [str(tmp_path / "a.png"), str(tmp_path / "sub" / "a.jpg"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]
    assert main(args) == 2
    assert f"{tmp_path / 'a.png'} and {tmp_path / 'sub' / 'a.jpg'} would both write" in one_line_error(capsys)
    assert not (tmp_path / "out").exists()


def test_cli_runs_a_photo_named_twice_once(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    cv2.imwrite(str(tmp_path / "a.png"), photo)
    (tmp_path / "link.png").symlink_to(tmp_path / "a.png")
    args = [str(tmp_path / "a.png"), str(tmp_path / "a.png"), str(tmp_path / "link.png")]
    assert main([*args, "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 0
    err = capsys.readouterr().err
    assert err.count("the same file as") == 2
    assert sorted(p.name for p in (tmp_path / "out").glob("*.exr")) == ["a.exr"]


def test_folder_run_skips_outputs_of_its_photos_and_says_why(ckpt: Path, bracket: Path, photo: np.ndarray,
                                                             tmp_path: Path, capsys) -> None:
    """A folder's files named like the outputs of a photo in it, other types and subfolders are skipped, named;
    a re-run into the same output folder skips the photos already done and writes nothing."""
    cv2.imwrite(str(bracket / "x.png"), photo)
    cv2.imwrite(str(bracket / "x_preview.png"), photo)
    cv2.imwrite(str(bracket / "x_ev+1_crf.png"), photo)  # an output's name of a photo that is not here: a photo
    (bracket / "notes.txt").write_text("not a photo")
    (bracket / "old").mkdir()
    out = bracket / "old" / "hdr"  # inside the input folder: fine, subfolders are not searched
    assert main([str(bracket), "--ckpt", str(ckpt), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "skipping 2 file(s) named like the outputs of another photo here" in err
    assert "scene_ev+1.png, x_preview.png" in err and "notes.txt" in err and "old" in err
    assert sorted(p.name for p in out.glob("*.exr")) == ["scene.exr", "x.exr", "x_ev+1_crf.exr"]
    files = snapshot(out)
    assert main([str(bracket), "--ckpt", str(ckpt), "-o", str(out)]) == 0
    assert capsys.readouterr().err.count("already in") == 3 and snapshot(out) == files


def test_collect_inputs_takes_every_readable_type(tmp_path: Path) -> None:
    """Every extension :mod:`hdrsyn.io` reads is a photo (.webp / .bmp when it reads them); others are named."""
    from hdrsyn.inference import collect_inputs
    from hdrsyn.io import LDR_EXTENSIONS

    names = [f"p{i}{ext}" for i, ext in enumerate(LDR_EXTENSIONS)] + ["shout.PNG"]
    for name in [*names, "raw.cr2", ".hidden.png"]:
        (tmp_path / name).write_bytes(b"")
    inputs = collect_inputs([tmp_path])
    assert sorted(p.name for p in inputs.files) == sorted(names)
    assert inputs.notes == [f"{tmp_path}: skipping 1 hidden file(s): .hidden.png",
                            f"{tmp_path}: skipping 1 file(s) of other types (photos are {' '.join(LDR_EXTENSIONS)}): "
                            "raw.cr2"]


@pytest.mark.parametrize("kind", ["file", "under a file"])
def test_cli_checks_the_output_folder_before_any_photo(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys,
                                                       monkeypatch, kind: str) -> None:
    import hdrsyn.inference as inference

    cv2.imwrite(str(tmp_path / "a.png"), photo)
    (tmp_path / "taken").write_text("mine")
    monkeypatch.setattr(inference, "read_ldr", lambda path: pytest.fail(f"{path} was read"))
    out = tmp_path / "taken" if kind == "file" else tmp_path / "taken" / "out"
    assert main([str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 2
    err = one_line_error(capsys)
    assert f"-o {out}: " in err and ("is not a folder" in err if kind == "file" else "is a file" in err)
    assert (tmp_path / "taken").read_text() == "mine"


def test_cli_usage_errors_are_one_line(tmp_path: Path, capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([str(tmp_path), "-o", str(tmp_path / "out"), "--work-size", "0"])
    assert exit_.value.code == 2 and "--work-size: expected a positive number, got '0'" in one_line_error(capsys)


# --- interruptions and full disks -------------------------------------------------------------------------


@pytest.fixture()
def three_photos(photo: np.ndarray, tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.png"):
        cv2.imwrite(str(folder / name), photo)
    return folder


def test_ctrl_c_stops_cleanly_and_a_rerun_continues(ckpt: Path, three_photos: Path, tmp_path: Path, monkeypatch,
                                                    capsys) -> None:
    """Ctrl-C in the second photo: one line, exit 130, only the first photo's complete group; the re-run skips
    it (not a failure) and does the other two."""
    import hdrsyn.inference as inference

    original, calls = inference.reconstruct_image, []

    def interrupted_second(*args, **kwargs) -> dict:  # noqa: ANN002, ANN003
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(inference, "reconstruct_image", interrupted_second)
    out = tmp_path / "out"
    args = [str(three_photos), "--ckpt", str(ckpt), "-o", str(out)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert err.strip().splitlines()[-1] == "hdrsyn reconstruct: interrupted; 1 of 3 done, re-run to continue"
    assert "Traceback" not in err and {p.name.split("_")[0].split(".")[0] for p in out.iterdir() if p.name != LEDGER_NAME} == {"a"}
    assert len(list(out.iterdir())) == 13  # a.exr, 7 exposures, response, preview, uhdr, viewer, ledger: no temporaries
    monkeypatch.setattr(inference, "reconstruct_image", original)
    assert main(args) == 0
    err = capsys.readouterr().err
    assert "a.png: its outputs are already in" in err and "failed" not in err
    assert len(list(out.iterdir())) == 37  # 3 x 12 and the ledger


def test_ctrl_c_while_committing_completes_the_group(ckpt: Path, three_photos: Path, tmp_path: Path, monkeypatch,
                                                     capsys) -> None:
    """A Ctrl-C between two renames of a group's commit waits until the group is complete."""
    import os
    import signal

    real_replace, calls = os.replace, []

    def interrupted_replace(src, dst) -> None:  # noqa: ANN001
        if not Path(dst).name.startswith("."):  # a rename of the commit, not of an encoder's temporary
            calls.append(dst)
            if len(calls) == 3:
                signal.raise_signal(signal.SIGINT)
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", interrupted_replace)
    out = tmp_path / "out"
    assert main([str(three_photos / "a.png"), str(three_photos / "b.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 130
    assert "interrupted; 0 of 2 done" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir() if p.name != LEDGER_NAME) == sorted(Path(p).name for p in calls)
    assert len(calls) == 12  # a's group, whole


def test_a_full_disk_stops_the_run_with_one_line_per_file(ckpt: Path, three_photos: Path, tmp_path: Path,
                                                          monkeypatch, capsys) -> None:
    import errno

    import hdrsyn.inference as inference
    from hdrsyn.io import ImageIOError

    out = tmp_path / "out"

    def full_disk(path, *args, **kwargs) -> None:  # noqa: ANN001, ANN002, ANN003
        Path(path).write_bytes(b"half")  # the encoder got this far
        raise ImageIOError(f"cannot write {path}: no space left on {out}") from OSError(errno.ENOSPC, "No space")

    monkeypatch.setattr(inference, "write_hdr", full_disk)
    assert main([str(three_photos), "--ckpt", str(ckpt), "-o", str(out)]) == 1
    lines = capsys.readouterr().err.strip().splitlines()
    assert [line for line in lines if "no space left on" in line][0].startswith(f"hdrsyn reconstruct: {three_photos}")
    assert lines[-1].startswith("hdrsyn reconstruct: stopped after 0 of 3 done: ")
    assert "b.png" not in "".join(lines) and snapshot(out) == {}  # stopped early; nothing partial


# --- the public API -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ldr", "error", "match"),
    [
        (np.zeros((3, 8, 8), np.float32), TypeError, "ldr must be a torch.Tensor, got ndarray"),
        (torch.zeros(3, 8, 8, dtype=torch.uint8), TypeError, "ldr must be a float tensor .* torch.uint8"),
        (torch.zeros(3, 0, 8), ValueError, r"ldr is empty \(shape \(3, 0, 8\)\)"),
        (torch.zeros(0, 8, 8), ValueError, r"\(3, H, W\) image"),
        (torch.zeros(8, 8, 3), ValueError, r"\(3, H, W\) image"),
        (torch.full((3, 8, 8), 2.0), ValueError, r"must lie in \[0, 1\]"),
        (torch.full((3, 8, 8), float("nan")), ValueError, r"must lie in \[0, 1\]"),
    ],
)
def test_reconstruct_image_refuses_bad_images(ckpt: Path, ldr, error: type, match: str) -> None:  # noqa: ANN001
    with pytest.raises(error, match=match):
        reconstruct_image(load_reconstructor(ckpt), ldr)


@pytest.mark.parametrize(("option", "value"), [("strip_rows", 0), ("work_size", -1), ("work_size", 2.5)])
def test_reconstruct_image_refuses_bad_options(ckpt: Path, option: str, value: object) -> None:
    with pytest.raises(ValueError, match=f"{option} must be a positive integer"):
        reconstruct_image(load_reconstructor(ckpt), torch.rand(3, 16, 16), **{option: value})


# --- memory: strips and plans -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scene() -> torch.Tensor:
    """A 150x130 image with gradients and texture (float in [0, 1])."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 150), torch.linspace(0, 1, 130), indexing="ij")
    return torch.stack([x, y, (torch.sin(15 * x) * torch.cos(11 * y) + 1) / 2]) * 0.9 + 0.05


@pytest.mark.parametrize("sampling", ["grossberg", "spatial"])
@pytest.mark.parametrize("work_size", [None, 64])
def test_strips_equal_the_whole_image(ckpt: Path, scene: torch.Tensor, sampling: str, work_size: int | None) -> None:
    """In strips of 16 rows (10 strips) the result is the whole image's: the same CRF samples, so the same
    response; a per-pixel merge. Measured: radiance within 2e-6 relative, 8-bit stack and preview off by at
    most one level (float rounding of the row-wise upscale at a rounding edge)."""
    from dataclasses import replace

    from hdrsyn.inference import to_uint8

    model = replace(load_reconstructor(ckpt), sampling=sampling)
    whole = reconstruct_image(model, scene, work_size=work_size)
    strips = reconstruct_image(model, scene, work_size=work_size, strip_rows=16)
    assert strips["stack"].dtype == strips["preview"].dtype == torch.uint8
    assert strips["stack"].shape == (7, 3, 150, 130) and strips["preview"].shape == (3, 150, 130)
    assert (strips["stack"].int() - to_uint8(whole["stack"]).int()).abs().max() <= 1
    assert (strips["preview"].int() - to_uint8(whole["preview"]).int()).abs().max() <= 1
    torch.testing.assert_close(strips["inverse_crf"], whole["inverse_crf"], rtol=1e-6, atol=0)
    torch.testing.assert_close(strips["radiance"], whole["radiance"], rtol=1e-5, atol=0)
    assert torch.equal(strips["ev"], whole["ev"])


def test_live_bytes_of_a_network_are_counted() -> None:
    """A 1x1 conv 3 -> 8 on 16x16: its input (3 kB) and output (8 kB) are alive together."""
    from hdrsyn.memory import peak_bytes

    net = torch.nn.Conv2d(3, 8, 1)
    assert peak_bytes(net, 16, 16, torch.device("cpu")) == (3 + 8) * 16 * 16 * 4


def test_plans_fit_the_budget_or_name_the_flag(ckpt: Path) -> None:
    """A small photo runs whole; 24 MP at the default budget runs at a work size in strips, within it, also when
    tiles are asked for; a forced work size that cannot fit, or a budget nothing fits, is refused naming the
    flags."""
    from hdrsyn.memory import AUTO_WORK_SIZE, DEFAULT_MAX_MEMORY, MemoryBudgetError, Plan, plan_reconstruction

    model = load_reconstructor(ckpt)
    small = plan_reconstruction(model, 100, 70)
    assert (small.work_size, small.tile, small.strip_rows) == (None, None, None)
    large = plan_reconstruction(model, 4000, 6000)
    assert large.work_size <= AUTO_WORK_SIZE and large.strip_rows and large.bytes <= DEFAULT_MAX_MEMORY
    assert isinstance(large, Plan) and "--work-size" in large.describe()
    with pytest.raises(MemoryBudgetError, match=r"6000x4000 photo at --work-size 6000 needs about .* GB, more than "
                                                r"--max-memory 3; use --work-size \d+ or raise --max-memory"):
        plan_reconstruction(model, 4000, 6000, work_size=6000)
    tiled = plan_reconstruction(model, 4000, 6000, tile=640)  # full resolution in tiles does not fit
    assert tiled.tile == 640 and tiled.work_size <= AUTO_WORK_SIZE and tiled.bytes <= DEFAULT_MAX_MEMORY
    with pytest.raises(MemoryBudgetError, match=r"needs about .* GB even at --work-size 128, more than --max-memory "
                                                r"0.1; raise --max-memory"):
        plan_reconstruction(model, 4000, 6000, max_memory=0.1e9)


def test_cli_picks_a_work_size_that_fits_and_refuses_one_that_does_not(ckpt: Path, photo: np.ndarray,
                                                                       tmp_path: Path, capsys) -> None:
    from hdrsyn.memory import GB, estimate_bytes

    model = load_reconstructor(ckpt)
    cv2.imwrite(str(tmp_path / "big.png"), cv2.resize(photo, (300, 430)))
    budget = estimate_bytes(model, 430, 300, 256, None, None) * 1.01  # whole at 256 fits, full resolution not
    assert min(estimate_bytes(model, 430, 300, None, None, rows) for rows in (None, 100)) > budget
    args = [str(tmp_path / "big.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out"),
            "--max-memory", str(budget / GB)]
    assert main(args) == 0
    err = capsys.readouterr().err
    assert f"a 300x430 photo at full resolution needs more than --max-memory {budget / GB:g} (GB); running at " \
           "--work-size " in err
    assert read_ldr(tmp_path / "out" / "big_ev+1.png").shape == (430, 300, 3)
    assert main([*args[:-2], "-o", str(tmp_path / "out2"), "--work-size", "400", "--max-memory", "0.000001"]) == 1
    assert "--work-size 400 needs about" in capsys.readouterr().err and not (tmp_path / "out2").exists()


def test_a_display_p3_photo_is_converted_and_said(ckpt: Path, photo: np.ndarray, tmp_path: Path, capsys) -> None:
    """The issue's case: a P3-tagged photo (every recent iPhone photo) must not give the untagged copy's HDR."""
    from PIL import Image

    from tests.hdrsyn.test_io import DISPLAY_P3, _rgb_icc, _srgb_curve_tag

    Image.fromarray(photo).save(tmp_path / "plain.png")
    Image.fromarray(photo).save(tmp_path / "p3.png", icc_profile=_rgb_icc("Display P3", DISPLAY_P3, _srgb_curve_tag()))
    out = tmp_path / "out"
    assert main([str(tmp_path / "plain.png"), str(tmp_path / "p3.png"), "--ckpt", str(ckpt), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "p3.png: converted from Display P3 to sRGB" in err and "plain.png: converted" not in err
    plain, p3 = read_hdr(out / "plain.exr"), read_hdr(out / "p3.exr")
    assert not np.array_equal(plain, p3)
    # P3 is wider than sRGB: in sRGB the same numbers are more saturated (larger spread between channels).
    assert (p3.max(-1) / p3.min(-1).clip(1e-6)).mean() > (plain.max(-1) / plain.min(-1).clip(1e-6)).mean()


def test_ultra_hdr_and_viewer_are_written_unless_switched_off(ckpt: Path, photo: np.ndarray, tmp_path: Path) -> None:
    from hdrsyn.gainmap import read_ultrahdr

    cv2.imwrite(str(tmp_path / "a.png"), photo)
    assert main([str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "out")]) == 0
    radiance, metadata = read_ultrahdr((tmp_path / "out" / "a_uhdr.jpg").read_bytes())
    assert radiance.shape == (100, 70, 3) and metadata.hdr_capacity_max > 0
    page = (tmp_path / "out" / "a_viewer.html").read_text()
    assert "EV +3" in page and not re.search(r"""(src|href)=["']?https?:""", page)  # self-contained
    assert main([str(tmp_path / "a.png"), "--ckpt", str(ckpt), "-o", str(tmp_path / "bare"), "--no-uhdr",
                 "--no-viewer"]) == 0
    assert not list((tmp_path / "bare").glob("a_uhdr*")) and not list((tmp_path / "bare").glob("a_viewer*"))
