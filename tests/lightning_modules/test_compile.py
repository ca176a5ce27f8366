"""The ``CompileGenerator`` callback refuses modules without a stack generator (a stage training compiled runs
in ``tests/bench/speed/test_device_check.py``: its compiled fp32 loss equals the eager one)."""

from __future__ import annotations

import pytest
import pytorch_lightning as pl
from torch.utils.data import DataLoader

from lightning_modules.baselines import ExpandNetBaseline
from lightning_modules.compile import CompileGenerator


def test_refuses_a_module_without_stack_generator(batch: dict) -> None:
    trainer = pl.Trainer(accelerator="cpu", max_steps=1, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, callbacks=[CompileGenerator()])
    with pytest.raises(TypeError, match="needs a module with a StackGenerator"):
        trainer.fit(ExpandNetBaseline(channels=8), DataLoader([batch], batch_size=None))
