"""ExpandNet's loss: L1 plus five times the cosine distance."""

from __future__ import annotations

import torch

from lightning_modules.baselines.expandnet.loss import expandnet_loss


def test_loss_is_l1_plus_five_times_cosine_distance() -> None:
    target = torch.rand(1, 3, 8, 8) + 0.1
    assert expandnet_loss(target, target) < 1e-6
    # A scaled prediction has the same colour direction: only the L1 term remains.
    torch.testing.assert_close(expandnet_loss(2 * target, target), target.mean(), atol=1e-5, rtol=1e-5)
    grey = target.mean(dim=1, keepdim=True).expand_as(target)
    cosine = torch.nn.functional.cosine_similarity(grey, target, dim=1).mean()
    expected = (grey - target).abs().mean() + 5 * (1 - cosine)
    torch.testing.assert_close(expandnet_loss(grey, target), expected)
