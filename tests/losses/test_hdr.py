import math

import pytest
import torch

from losses import HDRLoss, hdr_loss


@pytest.fixture
def hdr_pair() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    target = torch.rand(2, 3, 16, 16) ** 4
    return target * torch.empty_like(target).uniform_(0.5, 1.5), target


@pytest.mark.parametrize("mu", [5000.0, 100.0])
def test_mu_law_l1(hdr_pair, mu):
    pred, target = hdr_pair
    expected = (torch.log1p(mu * pred) - torch.log1p(mu * target)).abs().mean() / math.log1p(mu)
    assert torch.allclose(hdr_loss(pred, target, mu), expected, rtol=1e-5)
    assert torch.allclose(HDRLoss(mu)(pred, target), expected, rtol=1e-5)


def test_identity_mu_and_gradient(hdr_pair):
    pred, target = hdr_pair
    assert hdr_loss(target, target) == 0
    assert not torch.allclose(hdr_loss(pred, target, 5000.0), hdr_loss(pred, target, 100.0))
    pred = pred.clone().requires_grad_()
    hdr_loss(pred, target).backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_shape_mismatch(hdr_pair):
    with pytest.raises(ValueError, match="tensors must have the same shape"):
        hdr_loss(hdr_pair[0], hdr_pair[1][:1])
