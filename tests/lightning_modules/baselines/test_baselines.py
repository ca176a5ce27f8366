"""Each trained baseline fits 2 steps and tests on a tiny batch with the outputs and keys of JointStage."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from hdrsyn.model_registry import init_arguments
from lightning_modules.baselines import (
    DeepRecursiveHDRIBaseline,
    ExpandNetBaseline,
    HDRBaseline,
    HDRCNNBaseline,
    LinearExpansion,
)

TINY: dict[str, Callable[[str], HDRBaseline]] = {
    "deep_recursive_hdri": lambda out: DeepRecursiveHDRIBaseline(base_channels=4, levels=4, disc_channels=4,
                                                                 output_dir=out),
    "expandnet": lambda out: ExpandNetBaseline(channels=8, output_dir=out),
    "hdrcnn": lambda out: HDRCNNBaseline(base_channels=4, output_dir=out),
}
HDR_KEYS = {"test/mu_psnr", "test/log_psnr", "test/pu21_psnr", "test/pu21_ssim", "test/crf/pu21_psnr"}


class RecordLosses(pl.Callback):
    def __init__(self) -> None:
        self.losses: list[float] = []

    def on_train_batch_end(self, trainer: pl.Trainer, *args) -> None:  # noqa: ANN002
        self.losses.append(float(trainer.callback_metrics["train/loss"]))


def trainer(**kwargs) -> pl.Trainer:  # noqa: ANN003
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **kwargs)


def loader(batch: dict, n: int = 1) -> DataLoader:
    return DataLoader([batch] * n, batch_size=None)


@pytest.mark.parametrize("name", sorted(TINY))
def test_the_evaluation_arguments_are_recorded(name: str, tmp_path: Path) -> None:
    """cvvdp, crf_correction and output_dir are declared once (HDRBaseline) and forwarded by every baseline."""
    model = TINY[name](str(tmp_path))
    assert set(model.hparams) == set(init_arguments(type(model))) >= {"cvvdp", "crf_correction", "output_dir"}
    assert model.hparams.output_dir == model.output_dir == str(tmp_path)


@pytest.mark.parametrize("name", sorted(TINY))
def test_fits_two_steps_and_tests(name: str, saturated: dict, tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = TINY[name](str(tmp_path / "out"))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    record = RecordLosses()
    steps = 4 if name == "deep_recursive_hdri" else 2  # the GAN's global_step counts both optimisers' steps
    fit = trainer(max_steps=steps, callbacks=[record], limit_val_batches=1, num_sanity_val_steps=0)
    fit.fit(model, loader(saturated, 2), loader(saturated))
    assert ("val/psnr/up" in fit.callback_metrics) == (name == "deep_recursive_hdri")
    assert len(record.losses) == 2 and all(torch.isfinite(torch.tensor(record.losses)))
    assert fit.callback_metrics["val/mu_psnr"].isfinite()
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items()), "no weight was updated"

    results = trainer().test(model, loader(saturated), verbose=False)[0]
    assert HDR_KEYS <= set(results) and all(torch.isfinite(torch.tensor(v)) for v in results.values())
    has_stack = name == "deep_recursive_hdri"
    assert ("test/psnr/ev+1" in results) == has_stack and ("test/ssim/up" in results) == has_stack
    out = tmp_path / "out"
    assert (out / "hdr/fake.exr").is_file() and (out / "preview/fake.png").is_file()
    assert (out / "stack/fake.png").is_file() == has_stack


def test_reference_methods_refuse_to_fit(batch: dict) -> None:
    with pytest.raises(RuntimeError, match="no trainable parameters"):
        trainer(max_steps=1).fit(LinearExpansion(), loader(batch))
