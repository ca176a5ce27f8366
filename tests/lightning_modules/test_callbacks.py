"""NonFiniteGuard: a NaN loss never reaches the weights."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader

from lightning_modules.callbacks import NonFiniteGuard


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
