"""NonFiniteGuard: a NaN loss never reaches the weights. FlushDenormals: subnormals are zero during a fit only.
StageCheckpoint: last.ckpt is the newest model."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.demos.boring_classes import BoringModel
from torch.utils.data import DataLoader

from lightning_modules.callbacks import FlushDenormals, NonFiniteGuard, StageCheckpoint


class Poisoned(pl.LightningModule):
    """A linear model whose loss is NaN on the scene called 'bad'."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.layer(batch["x"]).pow(2).mean()
        return loss * float("nan") if "bad" in batch["name"] else loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=0.1)


def fit(policy: str) -> tuple[Poisoned, NonFiniteGuard]:
    data = [{"x": torch.ones(4), "name": name} for name in ("a", "bad", "c", "d")]
    model, guard = Poisoned(), NonFiniteGuard(policy)
    trainer = pl.Trainer(max_epochs=1, callbacks=[guard], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu")
    trainer.fit(model, DataLoader(data, batch_size=1))
    return model, guard


def test_skip_policy_keeps_weights_finite_and_counts() -> None:
    model, guard = fit("skip")
    assert guard.skipped == 1
    assert all(torch.isfinite(p).all() for p in model.parameters())


def test_stop_policy_names_the_batch() -> None:
    with pytest.raises(FloatingPointError, match=r"scenes \['bad'\]"):
        fit("stop")


def boring_fit(folder: Path, seed: int, **trainer_args: object) -> BoringModel:
    """Fit Lightning's BoringModel for one step with a StageCheckpoint writing to ``folder``."""
    torch.manual_seed(seed)
    model = BoringModel()
    trainer = pl.Trainer(callbacks=[StageCheckpoint(dirpath=folder, save_last=True)], logger=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                         limit_val_batches=0, **trainer_args)
    trainer.fit(model)
    return model


def test_fast_dev_run_leaves_no_checkpoint(tmp_path: Path) -> None:
    boring_fit(tmp_path, 0, fast_dev_run=1)
    assert not tmp_path.exists() or not list(tmp_path.iterdir())


def test_a_new_fit_replaces_last_ckpt_and_last_means_last_ckpt(tmp_path: Path) -> None:
    boring_fit(tmp_path, 0, max_steps=1)
    second = boring_fit(tmp_path, 1, max_steps=1)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["epoch=0-step=1.ckpt", "last.ckpt"]
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)["state_dict"]
    assert all(torch.equal(saved[k], v) for k, v in second.state_dict().items())
    shutil.copy(tmp_path / "last.ckpt", tmp_path / "last-v1.ckpt")  # stale, and newer, from an older version
    trainer = pl.Trainer(callbacks=[StageCheckpoint(dirpath=tmp_path, save_last=True)], logger=False,
                         enable_progress_bar=False, accelerator="cpu", limit_test_batches=1)
    trainer.test(BoringModel(), ckpt_path="last", verbose=False)
    assert Path(trainer.ckpt_path) == tmp_path / "last.ckpt"


SUBNORMAL = 1e-39  # below float32's smallest normal number, 1.18e-38


class SubnormalProbe(BoringModel):
    """Records what ``SUBNORMAL * 1`` computes to in float32 during its training steps."""

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        self.seen = float(torch.tensor([SUBNORMAL]) * 1.0)
        return super().training_step(batch, batch_idx)


def test_flush_denormals_zeroes_subnormals_during_fit_only() -> None:
    if not torch.set_flush_denormal(False):
        pytest.skip("this CPU has no flush-to-zero mode")
    assert float(torch.tensor([SUBNORMAL]) * 1.0) > 0
    model = SubnormalProbe()
    trainer = pl.Trainer(callbacks=[FlushDenormals()], max_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
                         limit_val_batches=0)
    trainer.fit(model)
    assert model.seen == 0.0
    assert float(torch.tensor([SUBNORMAL]) * 1.0) > 0  # cleared again by teardown
