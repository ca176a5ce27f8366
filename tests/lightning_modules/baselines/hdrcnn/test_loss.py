"""HDRCNN's log-domain illuminance / reflectance loss."""

from __future__ import annotations

import math

import torch

from lightning_modules.baselines.hdrcnn.loss import hdrcnn_loss


def test_loss_separates_illuminance_and_reflectance() -> None:
    torch.manual_seed(0)
    target = torch.rand(1, 3, 32, 32) * 4 + 0.01
    alpha = torch.rand(1, 1, 32, 32)
    log_target = torch.log(target + 1 / 255)
    assert hdrcnn_loss(log_target, target, alpha) < 1e-10
    assert hdrcnn_loss(log_target + 1.0, target, torch.zeros_like(alpha)) == 0
    # A global exposure shift is all illuminance: lambda * c^2 * mean(alpha).
    c = 0.3
    torch.testing.assert_close(hdrcnn_loss(log_target + c, target, alpha, lambda_ir=0.5),
                               0.5 * c**2 * alpha.mean(), rtol=1e-4, atol=1e-6)
    # A colour change at constant luminance is mostly reflectance.
    shifted = log_target + torch.tensor([0.1, -0.1, 0.0]).view(1, 3, 1, 1)
    assert math.isfinite(hdrcnn_loss(shifted, target, alpha).item())
