"""The shared evaluation helpers log what JointStage logs and write what it writes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from types import SimpleNamespace

import pytest
import torch

from lightning_modules.base import StackStage
from lightning_modules.evaluation import HDRTestMetrics, log_stack_psnr, mu_psnr, write_test_outputs
from ops.tonemap import mu_law


def recorder() -> tuple[SimpleNamespace, dict[str, float]]:
    logged: dict[str, float] = {}
    return SimpleNamespace(log=lambda key, value, **kwargs: logged.__setitem__(key, float(value))), logged


def test_stack_psnr_keys_and_values_match_stack_stage(batch: dict) -> None:
    pred = (batch["stack"] + 0.05 * torch.randn_like(batch["stack"])).clamp(0, 1)
    ours, ours_logged = recorder()
    theirs, theirs_logged = recorder()
    log_stack_psnr(ours, "test", pred, batch["stack"], batch["ev"])
    StackStage.log_stack_psnr(theirs, "test", pred, batch["stack"], batch["ev"])
    assert ours_logged == theirs_logged
    assert set(ours_logged) == {"test/psnr_stack", *(f"test/psnr_ev{ev:+d}" for ev in (-3, -2, -1, 1, 2, 3))}


def test_mu_psnr_is_the_joint_stage_validation_metric(batch: dict) -> None:
    pred = batch["hdr"] * (1 + 0.1 * torch.rand_like(batch["hdr"]))
    hdr = batch["hdr"]
    mse = (mu_law(pred / pred.amax(), 5000) - mu_law(hdr / hdr.amax(), 5000)).square().mean()
    torch.testing.assert_close(mu_psnr(pred, hdr, 5000), -10 * mse.log10())
    assert mu_psnr(3 * hdr, hdr) > 100  # each image is divided by its own maximum: scale-free


def test_outputs_use_joint_stage_layout(batch: dict, tmp_path: Path) -> None:
    single_process = SimpleNamespace(trainer=SimpleNamespace(world_size=1, global_rank=0))
    write_test_outputs(single_process, tmp_path, ["scene/view"], batch["hdr"], batch["stack"])
    write_test_outputs(single_process, tmp_path / "direct", ["scene"], batch["hdr"])
    assert {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")} == {
        "hdr/scene_view.exr", "preview/scene_view.png", "stack/scene_view.png",
        "direct/hdr/scene.exr", "direct/preview/scene.png",
    }


def test_metrics_report_hdr_and_stack_scores(batch: dict) -> None:
    metrics = HDRTestMetrics()
    metrics.update(batch["hdr"] * 2, batch["hdr"])
    hdr_only = metrics.compute()
    assert {"test/mu_psnr", "test/mu_psnr_std", "test/pu21_ssim", "test/log_psnr"} <= set(hdr_only)
    assert not any(key.startswith("test/psnr/") for key in hdr_only)
    assert hdr_only["test/mu_psnr"] > 60  # scale-aligned: a scaled prediction is perfect
    metrics.reset()
    metrics.update(batch["hdr"], batch["hdr"], batch["stack"].flip(1), batch["stack"])
    assert {"test/psnr/up", "test/ssim/ev-3", "test/ms_ssim/down"} <= set(metrics.compute())
    with pytest.raises(ValueError, match="target_stack"):
        metrics.update(batch["hdr"], batch["hdr"], batch["stack"])


def test_colorvideovdp_is_optional(batch: dict) -> None:
    pytest.importorskip("pycvvdp")
    metrics = HDRTestMetrics(cvvdp=True)
    metrics.update(batch["hdr"][..., :32, :32] * 1.5, batch["hdr"][..., :32, :32])
    assert metrics.compute()["test/cvvdp"] > 9.5
