"""The three stages through the real CLI, the checkpoint hand-off, resume, and the paper's mechanism."""

from __future__ import annotations

import csv
import hashlib
import json
from pathlib import Path

import pytest
import torch
from torchmetrics.functional.image import peak_signal_noise_ratio

from datamodules.hdr_stack import HDRStackDataModule
from datamodules.sample import SampleOptions
from hdrsyn.cli import lightning_main
from hdrsyn.metrics import cvvdp_available
from lightning_modules.diffhdrsyn import GlobalStage, JointStage, LocalStage
from lightning_modules.diffhdrsyn.loss import without_centre
from lightning_modules.optim import GCAdam
from ops.exposure import exposure_stack
from tests.helpers import randomize_heads
from tests.lightning_modules.conftest import tiny_overrides


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Global and local stages fitted for 2 steps each through ``lightning fit``, then the joint stage."""
    root = tmp_path_factory.mktemp("runs")
    lightning_main(["fit", *tiny_overrides(root, "global")])
    lightning_main(["fit", *tiny_overrides(root, "local")])
    lightning_main([
        "fit", *tiny_overrides(root, "joint"),
        "--model.init_args.global_ckpt", str(root / "global/checkpoints/last.ckpt"),
        "--model.init_args.local_ckpt", str(root / "local/checkpoints/last.ckpt"),
    ])
    return root


def test_each_stage_fits_and_saves(trained: Path) -> None:
    for stage, cls in (("global", GlobalStage), ("local", LocalStage), ("joint", JointStage)):
        checkpoint = torch.load(trained / stage / "checkpoints/last.ckpt", weights_only=False)
        assert checkpoint["global_step"] == 2
        assert checkpoint["hyper_parameters"]["width"] == "tiny"
        assert (trained / stage / "config.yaml").is_file()
        cls.load_from_checkpoint(trained / stage / "checkpoints/last.ckpt")


def test_handoff_loads_exactly_the_saved_weights(trained: Path) -> None:
    model = JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(trained / "global/checkpoints/last.ckpt"),
                       local_ckpt=str(trained / "local/checkpoints/last.ckpt"), down_context=True)  # as the main job
    fresh = {k: v.clone() for k, v in model.state_dict().items()}
    model.configure_model()
    for stage, subnet in (("global", "global_net"), ("local", "local_net")):
        saved = torch.load(trained / stage / "checkpoints/last.ckpt", weights_only=False)["state_dict"]
        keys = [k for k in saved if f".{subnet}." in k]
        assert keys
        for key in keys:
            assert torch.equal(model.state_dict()[key], saved[key]), key
    refine = [k for k in fresh if ".refine_net." in k]
    assert all(torch.equal(model.state_dict()[k], fresh[k]) for k in refine), "refinement nets start fresh"


def test_resume_from_last_checkpoint(trained: Path) -> None:
    root = trained / "resume"
    lightning_main(["fit", *tiny_overrides(trained, "global", steps=4),
                    "--ckpt_path", str(trained / "global/checkpoints/last.ckpt"),
                    "--trainer.default_root_dir", str(root)])
    checkpoint = torch.load(trained / "global/checkpoints/last.ckpt", weights_only=False)
    assert checkpoint["global_step"] == 4


def run_trained_joint(trained: Path, command: str, out: Path) -> None:
    """``lightning test|predict`` of the trained joint checkpoint, writing its outputs to ``out``."""
    lightning_main([command, *tiny_overrides(trained, "joint"), "--model.init_args.output_dir", str(out),
                    "--model.init_args.global_ckpt", "null", "--model.init_args.local_ckpt", "null",
                    "--ckpt_path", str(trained / "joint/checkpoints/last.ckpt")])


def test_joint_test_writes_hdr_outputs(trained: Path) -> None:
    out = trained / "test_outputs"
    run_trained_joint(trained, "test", out)
    exrs = sorted((out / "hdr").glob("*.exr"))
    assert exrs and len(exrs) == len(sorted((out / "preview").glob("*.png")))
    assert len(sorted((out / "stack").glob("*.png"))) == len(exrs)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["method"] == "JointStage" and summary["num_images"] == len(exrs)
    assert {"mu_psnr", "pu21_psnr", "pu21_ssim", "log_psnr", "psnr/up", "crf/pu21_psnr"} <= set(summary["metrics"])
    assert ("cvvdp" in summary["metrics"] and "crf/cvvdp" in summary["metrics"]) == cvvdp_available()
    assert summary["protocol"]["normalization"]["pu21_psnr"]["high"] == 99.9
    checkpoint = trained / "joint/checkpoints/last.ckpt"
    assert summary["checkpoint"] == {"path": str(checkpoint.resolve()), "global_step": 2,
                                     "sha256": hashlib.sha256(checkpoint.read_bytes()).hexdigest()}
    assert summary["global_step"] == 2  # the checkpoint's, not the test trainer's 0
    assert len(summary["git"]["commit"]) == 40 and summary["data_fingerprint"]["dataset"] == "sample"
    rows = list(csv.DictReader((out / "metrics_per_image.csv").open()))
    assert sorted(row["name"] for row in rows) == sorted(p.stem for p in exrs)
    mean = sum(float(row["pu21_psnr"]) for row in rows) / len(rows)
    assert mean == pytest.approx(summary["metrics"]["pu21_psnr"], rel=1e-5)


def test_missing_stage_checkpoint_is_reported_before_training(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="global_ckpt=.*does not exist; train that stage first"):
        JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(tmp_path / "nope.ckpt"))


def test_checkpoint_of_another_width_is_refused(trained: Path) -> None:
    model = JointStage(width="cpu", lambda_cobi=0.0, global_ckpt=str(trained / "global/checkpoints/last.ckpt"))
    with pytest.raises(ValueError, match="trained with width='tiny'"):
        model.configure_model()


def test_cobi_without_weights_fails_clearly() -> None:
    with pytest.raises(FileNotFoundError, match="cannot be downloaded"):
        JointStage(width="tiny", lambda_cobi=0.1)


def test_hdr_loss_gradient_reaches_both_directions(batch: dict) -> None:
    """The paper's central claim: the HDR loss alone trains stop-up and stop-down through the HDR layer."""
    model = JointStage(width="tiny", lambda_cobi=0.0, lambda_l1=0, lambda_hist=0, lambda_edge=0, lambda_refine=0,
                       teacher_forcing=False)
    randomize_heads(model.generator)  # the zero-initialised heads pass gradients on after their first update
    parts = model.losses(model.generator(batch["ldr"]), batch, teacher=False)
    assert set(parts) >= {"hdr", "total"} and parts["total"] == parts["hdr"]
    parts["total"].backward()
    for direction in ("up", "down"):
        for subnet in ("global_net", "local_net", "refine_net"):
            grads = [p.grad for p in getattr(getattr(model.generator, direction), subnet).parameters()]
            assert all(g is not None and torch.isfinite(g).all() for g in grads), (direction, subnet)
            assert sum(g.abs().sum() for g in grads) > 0, (direction, subnet)


def test_clipped_term_is_the_clipped_loss_of_the_merged_hdr(batch: dict) -> None:
    """lambda_clipped adds clipped_hdr_loss of the scaled merge inside the input's clipped pixels, and only then."""
    from losses.hdr import clipped_hdr_loss, clipped_mask

    batch = dict(batch)
    batch["stack"] = batch["stack"].clone()
    batch["stack"][:, 3, :, :, :8] = 1.0  # the input clips in a band: the term has pixels to weigh
    batch["ldr"] = batch["stack"][:, 3].clone()
    model = JointStage(width="tiny", lambda_cobi=0.0, lambda_clipped=0.5, teacher_forcing=False)
    out = model.generator(batch["ldr"])
    parts = model.losses(out, batch, teacher=False)
    scaled = model.objective.scaled(model.synthesize(out["stack"], batch), batch["hdr"])
    expected = clipped_hdr_loss(scaled, batch["hdr"], clipped_mask(batch["ldr"]))
    parts = {key: value.detach() for key, value in parts.items()}
    expected = expected.detach()
    assert float(parts["clipped"]) == pytest.approx(float(expected), rel=1e-5) and float(expected) > 0
    without = JointStage(width="tiny", lambda_cobi=0.0, teacher_forcing=False)
    without.load_state_dict(model.state_dict())
    plain = {key: value.detach() for key, value in without.losses(out, batch, teacher=False).items()}
    assert "clipped" not in plain
    assert float(parts["total"]) == pytest.approx(float(plain["total"]) + 0.5 * float(expected), rel=1e-5)
    assert "clipped" not in model.losses(out, batch, teacher=True)  # the teacher pass has no HDR terms


def test_without_hdr_layer_no_hdr_term(batch: dict) -> None:
    model = JointStage(width="tiny", lambda_cobi=0.0, use_hdr_layer=False)
    assert "hdr" not in model.losses(model.generator(batch["ldr"]), batch, teacher=False)


def test_gc_adam_centralises_weight_gradients() -> None:
    weight = torch.nn.Parameter(torch.zeros(4, 3, 3, 3))
    bias = torch.nn.Parameter(torch.zeros(4))
    optimizer = GCAdam([weight, bias], lr=0.1)
    weight.grad = torch.arange(108.0).view(4, 3, 3, 3)
    bias.grad = torch.ones(4)
    optimizer.step()
    assert weight.grad.mean(dim=(1, 2, 3)).abs().max() < 1e-5
    assert torch.equal(bias.grad, torch.ones(4))


def stack_psnr(model: JointStage, scene: dict) -> float:
    """Mean PSNR (dB) of the generated exposures of the autoregressive pass against the ground truth."""
    with torch.no_grad():
        pred = without_centre(model.generator(scene["ldr"])["stack"])
    return peak_signal_noise_ratio(pred, without_centre(scene["stack"]), data_range=1.0).item()


def test_joint_training_improves_on_its_analytic_start() -> None:
    """Stated margins: 40 steps on one real scene raise stack PSNR by >= 1 dB over the untrained generator
    (the analytic exposure shift) and cut the HDR loss (through the merge) by >= 10 %."""
    data = HDRStackDataModule(image_size=64, num_workers=0, sample=SampleOptions(views_per_scene=1), augment=False)
    data.setup("fit")
    scene = next(iter(data.train_dataloader()))
    torch.manual_seed(0)
    model = JointStage(width="tiny", lambda_cobi=0.0, teacher_forcing=False, lr_global=3e-3, lr_local=3e-3,
                       lr_refine=3e-3, weight_decay=0.0)
    shift = without_centre(exposure_stack(scene["ldr"], range(-3, 4)))
    start = stack_psnr(model, scene)
    assert start == pytest.approx(
        peak_signal_noise_ratio(shift, without_centre(scene["stack"]), data_range=1.0).item(), abs=1e-3)
    optimizer = model.configure_optimizers()
    hdr_losses = []
    for _ in range(40):
        parts = model.losses(model.generator(scene["ldr"]), scene, teacher=False)
        optimizer.zero_grad()
        parts["total"].backward()
        optimizer.step()
        hdr_losses.append(parts["hdr"].item())
    assert stack_psnr(model, scene) > start + 1.0
    assert hdr_losses[-1] < 0.9 * hdr_losses[0], hdr_losses[::10]


def test_lightning_predict_writes_reconstructions(trained: Path) -> None:
    out = trained / "predict_outputs"
    run_trained_joint(trained, "predict", out)
    exrs = sorted((out / "predict").glob("*.exr"))
    assert exrs and len(sorted((out / "predict").glob("*_preview.png"))) == len(exrs)


@pytest.mark.parametrize("stage", ["global", "joint"])
def test_shared_first_step_gives_the_two_pass_loss_and_gradients(batch: dict, stage: str) -> None:
    """The training step (teacher forcing through ``forward_pair``: shared step 0, later steps batched)
    equals the sum of an autoregressive and a teacher-forced pass computed separately, loss and gradients.
    Checked in float64: in float32 the joint loss's CRF solve turns summation-order rounding into 1e-4."""
    torch.manual_seed(0)
    model = (GlobalStage(width="tiny") if stage == "global" else JointStage(width="tiny", lambda_cobi=0.0))
    randomize_heads(model.generator)
    model = model.double()
    batch = {k: v.double() if torch.is_tensor(v) and v.is_floating_point() else v for k, v in batch.items()}
    model.log = model.log_dict = lambda *args, **kwargs: None
    shared = model.training_step(batch, 0)
    shared_grads = torch.autograd.grad(shared, list(model.generator.parameters()), allow_unused=True)
    if stage == "global":
        two = sum(model.objective(model.generator(batch["ldr"], targets=t), batch)["global"]
                  for t in (None, batch["stack"]))
    else:
        two = sum(model.losses(model.generator(batch["ldr"], targets=t), batch, teacher=t is not None)["total"]
                  for t in (None, batch["stack"]))
    two_grads = torch.autograd.grad(two, list(model.generator.parameters()), allow_unused=True)
    assert float(shared) == pytest.approx(float(two), rel=1e-12)
    assert [a is None for a in shared_grads] == [b is None for b in two_grads]
    a = torch.cat([g.flatten() for g in shared_grads if g is not None])
    b = torch.cat([g.flatten() for g in two_grads if g is not None])
    assert torch.allclose(a, b, rtol=1e-9, atol=1e-12 * float(b.abs().max()))  # summation order only


@pytest.mark.parametrize("stage", ["local", "joint"])
def test_edge_term_reads_the_batch_edges(batch: dict, stage: str) -> None:
    """Eq. 5 compares the predicted edge maps with the batch's Canny maps (made once by the data), not
    with edges recomputed from the stack: the term is the L1 to ``batch["edges"]`` without the input's."""
    torch.manual_seed(0)
    edges = (torch.rand(1, 7, 1, 64, 64) > 0.9).float()
    batch = {**batch, "edges": edges}
    if stage == "local":
        model = LocalStage(width="tiny")
        pred, part = model.generator(batch["ldr"], targets=batch["stack"], refine=False)["edges"], "local_edge"
        value = model.objective(batch)[part]
    else:
        model = JointStage(width="tiny", lambda_cobi=0.0)
        out = model.generator(batch["ldr"])
        pred, part = out["edges"], "local_edge"
        value = model.losses(out, batch, teacher=False)[part]
    expected = (pred - torch.cat([edges[:, :3], edges[:, 4:]], dim=1)).abs().mean()
    assert float(value) == pytest.approx(float(expected), rel=1e-6)
