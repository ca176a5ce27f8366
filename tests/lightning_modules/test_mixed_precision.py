"""bf16 mixed precision (``--trainer.precision bf16-mixed``) against float32, on CPU autocast.

Stated tolerances, for a tiny model (random values in its zero-initialised heads) on one 64 px batch
(measured: loss within 6e-4, gradients within 3 % (HDRCNN 12 %) with cosine >= 0.993; with the histogram
term, gradient cosine 0.87 (global) and 0.91 (joint)):

* loss: relative difference < 2e-3, for every stage and trained baseline with its default objective;
* gradient of all parameters: relative L2 difference < 0.1 (HDRCNN 0.2) and cosine similarity > 0.99,
  with the histogram term of Eq. 4 off. That term's pixel gradient is piecewise constant on 1/255-wide
  bins; bf16 moves the generated images by 7e-4 on average (up to 3e-2), across bin edges, and a float32
  perturbation of 1e-3 already turns its gradient as much, so it is compared through the loss only.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import pytorch_lightning as pl
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from lightning_modules.baselines import DeepRecursiveHDRIBaseline, ExpandNetBaseline, HDRCNNBaseline
from lightning_modules.diffhdrsyn import GlobalStage, JointStage, LocalStage

LOSS_TOLERANCE = 2e-3
GRAD_TOLERANCE = {"hdrcnn": 0.2}
MODELS: dict[str, Callable[..., pl.LightningModule]] = {
    "global": lambda **kw: GlobalStage(width="tiny", **kw),
    "local": lambda **kw: LocalStage(width="tiny"),
    "joint": lambda **kw: JointStage(width="tiny", lambda_cobi=0.0, **kw),
    "expandnet": lambda **kw: ExpandNetBaseline(channels=8),
    "hdrcnn": lambda **kw: HDRCNNBaseline(base_channels=4),
}


def loss_and_gradient(model: pl.LightningModule, batch: dict, bf16: bool) -> tuple[float, torch.Tensor]:
    """The training loss (under CPU bf16 autocast when ``bf16``) and the flattened gradient of all parameters."""
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        loss = model.training_step(batch, 0)
    assert loss.dtype == torch.float32
    loss.backward()
    return float(loss.detach()), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


def build(name: str, **kwargs: object) -> pl.LightningModule:
    """The model with random values in its zero-initialised convolutions (the generator's heads start at 0,
    so that its stack is the analytic exposure shift: bf16 would not reach the outputs)."""
    torch.manual_seed(0)
    model = MODELS[name](**kwargs)
    for weight in model.parameters():
        if weight.dim() == 4 and not weight.any():
            torch.nn.init.normal_(weight, std=0.02)
    model.log = model.log_dict = lambda *args, **kw: None  # no trainer attached
    return model


@pytest.mark.parametrize("name", sorted(MODELS))
def test_bf16_loss_and_gradients_match_float32(name: str, saturated: dict) -> None:
    model = build(name, **({"lambda_hist": 0.0} if name in ("global", "joint") else {}))
    loss32, grad32 = loss_and_gradient(model, saturated, bf16=False)
    loss16, grad16 = loss_and_gradient(model, saturated, bf16=True)
    assert abs(loss16 - loss32) / abs(loss32) < LOSS_TOLERANCE
    assert ((grad16 - grad32).norm() / grad32.norm()).item() < GRAD_TOLERANCE.get(name, 0.1)
    assert F.cosine_similarity(grad16, grad32, dim=0).item() > 0.99


@pytest.mark.parametrize("name", ["global", "joint"])
def test_bf16_loss_with_the_histogram_term_matches_float32(name: str, saturated: dict) -> None:
    model = build(name)
    loss32, _ = loss_and_gradient(model, saturated, bf16=False)
    loss16, grad16 = loss_and_gradient(model, saturated, bf16=True)
    assert abs(loss16 - loss32) / abs(loss32) < LOSS_TOLERANCE
    assert torch.isfinite(grad16).all()


def test_bf16_mixed_trainer_fits_every_stage_and_the_gan_baseline(saturated: dict) -> None:
    """``precision="bf16-mixed"`` through Lightning: one step each, finite losses, weights updated."""
    torch.manual_seed(0)
    models = {name: MODELS[name]() for name in ("global", "local", "joint")}
    models["deep_recursive_hdri"] = DeepRecursiveHDRIBaseline(base_channels=4, levels=4, disc_channels=4)
    for name, model in models.items():
        before = [p.detach().clone() for p in model.parameters() if p.requires_grad]
        trainer = pl.Trainer(accelerator="cpu", precision="bf16-mixed", max_steps=1, logger=False,
                             enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                             limit_val_batches=0)
        trainer.fit(model, DataLoader([saturated], batch_size=None))
        assert torch.isfinite(trainer.callback_metrics["train/loss"]), name
        after = [p.detach() for p in model.parameters() if p.requires_grad]
        assert any(not torch.equal(a, b) for a, b in zip(before, after)), name
