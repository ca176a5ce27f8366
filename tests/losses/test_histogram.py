import pytest
import torch

from losses import HistogramLoss, histogram_loss, soft_histogram


@pytest.fixture
def quantised() -> torch.Tensor:
    """8-bit images: every value is exactly on a bin centre k / 255."""
    torch.manual_seed(0)
    return torch.randint(0, 256, (2, 3, 16, 16)).float() / 255


@pytest.fixture
def continuous() -> torch.Tensor:
    torch.manual_seed(1)
    return torch.rand(2, 3, 16, 16)


def test_equals_hard_histogram_on_bin_centres(quantised):
    soft = soft_histogram(quantised)
    assert soft.shape == (2, 3, 256)
    half = 0.5 / 255
    for b in range(2):
        for c in range(3):
            hard = torch.histc(quantised[b, c], bins=256, min=-half, max=1 + half) / quantised[b, c].numel()
            assert torch.allclose(soft[b, c], hard, atol=1e-6)


def test_normalised_and_linear_split():
    assert torch.allclose(soft_histogram(torch.rand(4, 3, 8, 8)).sum(-1), torch.ones(4, 3))
    hist = soft_histogram(torch.full((1, 1, 2, 2), 0.25 / 3), bins=4)  # a quarter of the way from bin 0 to 1
    assert torch.allclose(hist, torch.tensor([[[0.75, 0.25, 0.0, 0.0]]]))
    assert torch.allclose(soft_histogram(torch.ones(1, 1, 2, 2), bins=4), torch.tensor([[[0.0, 0.0, 0.0, 1.0]]]))


def test_loss_values(quantised, continuous):
    assert histogram_loss(quantised, quantised) == 0
    loss = HistogramLoss()(continuous, quantised)
    expected = (soft_histogram(continuous) - soft_histogram(quantised)).abs().sum(-1).mean()
    assert 0 < expected <= 2
    assert loss > 0
    assert torch.allclose(loss, expected)
    stacked = histogram_loss(continuous[None].expand(2, -1, -1, -1, -1), quantised[None].expand(2, -1, -1, -1, -1))
    assert torch.allclose(stacked, loss)


def test_gradients_non_zero(continuous, quantised):
    pred = continuous.clone().requires_grad_()
    histogram_loss(pred, quantised).backward()
    assert torch.isfinite(pred.grad).all()
    assert (pred.grad != 0).float().mean() > 0.2  # neighbouring bins of equal sign cancel


def test_shape_mismatch(continuous):
    with pytest.raises(ValueError, match="tensors must have the same shape"):
        histogram_loss(continuous, continuous[:, :1])
