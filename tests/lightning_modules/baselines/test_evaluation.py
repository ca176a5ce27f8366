"""The shared evaluation: one definition per score in validation and test, the outputs every method writes."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import torch

from hdrsyn.metrics import StackMetrics, cvvdp_available
from lightning_modules.diffhdrsyn.base import StackStage
from lightning_modules.evaluation import HDRMetrics, log_stack_psnr, write_test_outputs


def recorder() -> tuple[SimpleNamespace, dict[str, float]]:
    logged: dict[str, float] = {}
    return SimpleNamespace(log=lambda key, value, **kwargs: logged.__setitem__(key, float(value))), logged


def test_stack_psnr_logged_per_batch_is_the_stack_metric(batch: dict) -> None:
    """The stages' per-batch validation PSNR has the keys and values of StackMetrics (the test metric)."""
    pred = (batch["stack"] + 0.05 * torch.randn_like(batch["stack"])).clamp(0, 1)
    ours, ours_logged = recorder()
    stage, stage_logged = recorder()
    log_stack_psnr(ours, "val", pred, batch["stack"], batch["ev"])
    StackStage.log_stack_psnr(stage, "val", pred, batch["stack"], batch["ev"])
    assert ours_logged == stage_logged
    metric = StackMetrics()
    metric.update(pred, batch["stack"])
    expected = {f"val/{k}": float(v) for k, v in metric.compute().items() if k.startswith("psnr/") and "_std" not in k}
    assert ours_logged.keys() == expected.keys()
    for key, value in expected.items():
        assert ours_logged[key] == pytest.approx(value, rel=1e-6), key


def test_validation_and_test_scores_are_one_definition(batch: dict) -> None:
    pred = batch["hdr"] * (1 + 0.2 * torch.rand_like(batch["hdr"]))
    stack = (batch["stack"] + 0.05).clamp(0, 1)
    val, test = HDRMetrics("val", cvvdp=False, crf_correction=False), HDRMetrics("test", cvvdp=False)
    for metrics in (val, test):
        metrics.update(pred, batch["hdr"], stack, batch["stack"], batch["name"])
    val_scores, test_scores = val.compute(), test.compute()
    assert {"val/mu_psnr", "val/pu21_psnr", "val/psnr/up", "val/ms_ssim/down"} <= set(val_scores)
    for key, value in val_scores.items():
        torch.testing.assert_close(test_scores[key.replace("val/", "test/", 1)], value)
    only_test = set(test_scores) - {key.replace("val/", "test/", 1) for key in val_scores}
    assert {"test/crf/mu_psnr", "test/crf/pu21_ssim"} <= only_test


def test_outputs_use_joint_stage_layout(batch: dict, tmp_path: Path) -> None:
    single_process = SimpleNamespace(trainer=SimpleNamespace(world_size=1, global_rank=0))
    write_test_outputs(single_process, tmp_path, ["scene/view"], batch["hdr"], batch["stack"])
    write_test_outputs(single_process, tmp_path / "direct", ["scene"], batch["hdr"])
    assert {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.*")} == {
        "hdr/scene_view.exr", "preview/scene_view.png", "stack/scene_view.png",
        "direct/hdr/scene.exr", "direct/preview/scene.png",
    }


def test_metrics_report_hdr_and_stack_scores(batch: dict) -> None:
    metrics = HDRMetrics(cvvdp=False)
    assert metrics.compute() == {}
    metrics.update(batch["hdr"] * 2, batch["hdr"])
    hdr_only = metrics.compute()
    assert {"test/mu_psnr", "test/mu_psnr_std", "test/pu21_ssim", "test/log_psnr", "test/crf/log_psnr"} <= set(hdr_only)
    assert not any(key.startswith("test/psnr/") for key in hdr_only)
    assert hdr_only["test/mu_psnr"] > 60  # scale-aligned: a scaled prediction is perfect
    metrics.reset()
    metrics.update(batch["hdr"], batch["hdr"], batch["stack"].flip(1), batch["stack"])
    assert {"test/psnr/up", "test/ssim/ev-3", "test/ms_ssim/down"} <= set(metrics.compute())
    with pytest.raises(ValueError, match="target_stack"):
        metrics.update(batch["hdr"], batch["hdr"], batch["stack"])


def test_jod_is_on_by_default_when_installed_and_can_be_skipped(batch: dict) -> None:
    hdr = batch["hdr"][..., :32, :32]
    default, skipped = HDRMetrics(), HDRMetrics(cvvdp=False)
    for metrics in (default, skipped):
        metrics.update(hdr * 1.5, hdr)
    assert ("test/cvvdp" in default.compute()) == cvvdp_available()
    assert not any("cvvdp" in key for key in skipped.compute())
    assert skipped.protocol()["cvvdp"] is None
    if cvvdp_available():
        assert default.compute()["test/cvvdp"] > 9.5 and default.compute()["test/crf/cvvdp"] > 9.5
        assert default.protocol()["cvvdp"]["pixels_per_degree"] == pytest.approx(33.5, abs=0.1)


def test_protocol_names_every_setting() -> None:
    protocol = HDRMetrics(cvvdp=False).protocol()
    assert protocol["normalization"]["pu21_psnr"]["high"] == 99.9
    assert protocol["normalization"]["mu_psnr"]["mode"] == "max" and protocol["mu_psnr_mu"] == 5000.0
    assert "PQ" in protocol["crf_correction"]["tone_curve"]
    assert HDRMetrics(crf_correction=False, cvvdp=False).protocol()["crf_correction"] is None
