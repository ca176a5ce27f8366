"""Shared by the tests of ``hdrsyn/``: a tiny joint stage with random heads, its checkpoint, a photo; a trained
checkpoint and a models folder packaging it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import pytorch_lightning as pl
import torch

from hdrsyn.pretrained import package_model
from lightning_modules.diffhdrsyn import JointStage
from tests.helpers import randomize_heads


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


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny joint-stage checkpoint whose heads are not zero (so that the weights matter)."""
    torch.manual_seed(0)
    joint = JointStage(width="tiny", lambda_cobi=0.0)
    with torch.no_grad():
        for parameter in joint.generator.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.02)
    return save_checkpoint(joint, tmp_path_factory.mktemp("trained") / "joint.ckpt")


@pytest.fixture()
def models(trained: Path, tmp_path: Path) -> Path:
    """A models folder holding ``trained`` as the default packaged model ``tiny-v1``."""
    package_model(trained, "tiny-v1", tmp_path / "models", recipe={"steps": 3})
    return tmp_path / "models"
