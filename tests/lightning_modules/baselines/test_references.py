"""The parameter-free references give the right answer on synthetic data, through ``test``."""

from __future__ import annotations

from pathlib import Path

import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from hdrsyn.io import read_hdr
from lightning_modules.baselines import DebevecReference, ExposureShiftReference, LinearExpansion
from ops.exposure import exposure_shift

EVS = torch.arange(-3.0, 4.0)


def rendered_batch(gamma: float = 2.2, size: int = 64) -> dict:
    """A tinted HDR with log-uniform radiance in [2^-7, 2^2] and its 8-bit stack through ``z = (E t)^(1/gamma)``."""
    torch.manual_seed(0)
    radiance = torch.empty(1, 1, size, size).uniform_(-7, 2).exp2() * torch.tensor([1.0, 0.8, 0.6]).view(1, 3, 1, 1)
    stack = torch.stack([((radiance * 2**ev).clamp(0, 1) ** (1 / gamma) * 255).round() / 255 for ev in EVS], dim=1)
    return {"ldr": stack[:, 3].clone(), "stack": stack, "ev": EVS[None], "hdr": radiance,
            "edges": torch.zeros(1, 7, 1, size, size), "name": ["synthetic"]}


def run_test(model: pl.LightningModule, batch: dict) -> dict[str, float]:
    trainer = pl.Trainer(accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False)
    return trainer.test(model, DataLoader([batch], batch_size=None), verbose=False)[0]


def log_error_up_to_scale(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    error = pred.log() - target.log()
    return (error - error.median()).abs()


def test_debevec_merge_of_the_true_stack_recovers_the_hdr_up_to_scale(tmp_path: Path) -> None:
    batch = rendered_batch()
    model = DebevecReference(output_dir=str(tmp_path))
    _, radiance = model.evaluate(batch)
    error = log_error_up_to_scale(radiance, batch["hdr"])
    assert error.median() < 0.01 and error.max() < 0.1  # 8-bit quantisation of the darkest exposures
    results = run_test(model, batch)
    assert results["test/mu_psnr"] > 40 and results["test/pu21_psnr"] > 40
    written = torch.from_numpy(read_hdr(tmp_path / "hdr/synthetic.exr")).permute(2, 0, 1)[None]
    torch.testing.assert_close(written, radiance, rtol=1e-3, atol=1e-6)  # half-float EXR
    assert (tmp_path / "preview/synthetic.png").is_file() and not (tmp_path / "stack").exists()


def test_linear_expansion_is_the_inverse_gamma_input(tmp_path: Path) -> None:
    batch = rendered_batch(gamma=2.2)
    model = LinearExpansion(gamma=2.2, output_dir=str(tmp_path))
    _, radiance = model.evaluate(batch)
    torch.testing.assert_close(radiance, batch["ldr"] ** 2.2)
    unclipped = batch["hdr"] < 0.9  # below saturation the only error is 8-bit quantisation
    assert log_error_up_to_scale(radiance, batch["hdr"])[unclipped].median() < 0.01
    results = run_test(model, batch)
    assert results["test/mu_psnr"] < run_test(DebevecReference(output_dir=str(tmp_path / "d")), batch)["test/mu_psnr"]
    written = torch.from_numpy(read_hdr(tmp_path / "hdr/synthetic.exr")).permute(2, 0, 1)[None]
    torch.testing.assert_close(written, radiance, rtol=1e-3, atol=1e-6)


def test_exposure_shift_reference_is_exact_for_a_gamma_camera(tmp_path: Path) -> None:
    """For a camera with response E^(1/2.2) the analytic stack equals the true one wherever the input is
    neither clipped nor too dark, and its merge is the input linearised (clipped highlights stay flat)."""
    batch = rendered_batch(gamma=2.2)
    model = ExposureShiftReference(output_dir=str(tmp_path))
    stack, radiance = model.evaluate(batch)
    torch.testing.assert_close(stack[:, 5], exposure_shift(batch["ldr"], 2.0))
    mid = (batch["ldr"] > 0.2) & (batch["ldr"] < 0.6)
    assert (stack[:, 4] - batch["stack"][:, 4]).abs()[mid].max() < 1.5 / 255 * 2 ** (1 / 2.2)
    unclipped = batch["hdr"] < 0.9
    assert log_error_up_to_scale(radiance, batch["hdr"])[unclipped].median() < 0.05
    results = run_test(model, batch)
    assert results["test/psnr/up"] > 30
    assert (tmp_path / "stack/synthetic.png").is_file()
