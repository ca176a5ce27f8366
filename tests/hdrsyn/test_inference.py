"""Inference (:mod:`hdrsyn.inference`, :mod:`hdrsyn.tiling`, :mod:`hdrsyn.memory`): checkpoint loading, any
input size, tiling, strips, memory plans."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from hdrsyn.inference import reconstruct_image
from hdrsyn.model_registry import CheckpointError, load_reconstructor
from hdrsyn.tiling import ramp, run_tiled, tile_spans
from lightning_modules.diffhdrsyn import GlobalStage, JointStage, stack_reconstructor
from tests.hdrsyn.conftest import save_checkpoint


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
