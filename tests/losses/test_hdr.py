import math

import pytest
import torch

from losses import ClippedHDRLoss, HDRLoss, clipped_hdr_loss, clipped_mask, hdr_loss


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


@pytest.fixture
def clipped_scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 16-px HDR whose right quarter is a source 4-16x above the clip, its 8-bit gamma input, the mask."""
    gen = torch.Generator().manual_seed(0)
    hdr = torch.rand(2, 3, 16, 16, generator=gen) * 0.5 + 0.05
    hdr[..., 12:] *= 8 + 24 * torch.rand(2, 3, 16, 4, generator=gen)
    ldr = torch.round(hdr.clamp(0, 1) ** (1 / 2.2) * 255) / 255
    return hdr, ldr, clipped_mask(ldr)


def test_clipped_mask_is_the_clipped_source(clipped_scene):
    _, _, mask = clipped_scene
    assert mask.shape == (2, 1, 16, 16)
    assert bool(mask[..., 12:].eq(1).all()) and bool(mask[..., :12].eq(0).all())
    with pytest.raises(ValueError, match="low < high"):
        clipped_mask(torch.rand(1, 3, 4, 4), 0.9, 0.9)


def test_clipped_loss_counts_stops_inside_the_mask_only(clipped_scene):
    hdr, ldr, mask = clipped_scene
    assert float(clipped_hdr_loss(hdr, hdr, mask)) == 0.0
    x22 = ldr ** 2.2  # exact where the input saw the scene, clipped to 1 in the source
    expected = (torch.log2(hdr[..., 12:] + 1e-4) - torch.log2(x22[..., 12:] + 1e-4)).abs().mean()
    assert float(clipped_hdr_loss(x22, hdr, mask)) == pytest.approx(float(expected), rel=1e-5)
    assert 1.5 < float(expected) < 4.0  # channels 0.4-17x the clip: about 2 stops lost on average
    dim = hdr.clone(); dim[..., :12] *= 100  # errors outside the mask are not counted
    dim[..., 12:] /= 4  # two stops too dim inside it
    assert float(clipped_hdr_loss(dim, hdr, mask, eps=0.0)) == pytest.approx(2.0, rel=1e-5)
    assert float(ClippedHDRLoss(eps=0.0)(dim, hdr, ldr)) == pytest.approx(2.0, rel=1e-5)
    assert float(clipped_hdr_loss(dim, hdr, torch.zeros_like(mask))) == 0.0  # nothing clipped: no term


def test_clipped_loss_gradcheck_and_checks(clipped_scene):
    hdr, _, mask = clipped_scene
    hdr = hdr[:1, :, :6, 9:15].double()
    pred = (hdr * torch.linspace(0.5, 1.7, 6, dtype=torch.double)).requires_grad_()
    assert torch.autograd.gradcheck(lambda p: clipped_hdr_loss(p, hdr, mask[:1, :, :6, 9:15].double()), (pred,))
    with pytest.raises(ValueError, match="mask"):
        clipped_hdr_loss(hdr, hdr, torch.ones(1, 3, 6, 6, dtype=torch.double))
