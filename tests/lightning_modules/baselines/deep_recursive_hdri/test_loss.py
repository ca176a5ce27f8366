"""Deep recursive HDRI: the least-squares GAN loss."""

from __future__ import annotations

import torch

from lightning_modules.baselines.deep_recursive_hdri.loss import lsgan_loss


def test_lsgan_loss() -> None:
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    assert lsgan_loss(ones, real=True) == 0 and lsgan_loss(zeros, real=False) == 0
    assert lsgan_loss(zeros, real=True) == 1 and lsgan_loss(ones * 0.5, real=False) == 0.25
