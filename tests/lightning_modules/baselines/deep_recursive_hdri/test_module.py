"""DeepRecursiveHDRIBaseline: the training pairs of each direction."""

from __future__ import annotations

import torch

from lightning_modules.baselines.deep_recursive_hdri import DeepRecursiveHDRIBaseline


def test_deep_recursive_hdri_trains_on_neighbouring_exposures(batch: dict) -> None:
    model = DeepRecursiveHDRIBaseline(base_channels=4, levels=4, disc_channels=4)
    pairs = model.pairs(batch["stack"])
    stack = batch["stack"][0]
    up_in, up_out = pairs["up"]
    down_in, down_out = pairs["down"]
    assert torch.equal(up_in, stack[3:6]) and torch.equal(up_out, stack[4:7])
    assert torch.equal(down_in, stack[1:4]) and torch.equal(down_out, stack[0:3])
