import pytest
import torch

from losses import EdgeLoss, edge_loss
from ops.edges import canny_edges


@pytest.fixture
def targets() -> torch.Tensor:
    """(B, E, 3, H, W) stacks with a bright square, which has clear Canny edges."""
    torch.manual_seed(0)
    images = torch.rand(2, 3, 3, 32, 32) * 0.1
    images[..., 8:24, 8:24] += 0.8
    return images


def test_zero_for_canny_of_target(targets):
    edges = canny_edges(targets.flatten(0, 1)).reshape(2, 3, 1, 32, 32)
    assert edges.sum() > 0
    assert edge_loss(edges, targets) == 0
    assert edge_loss(edges[:, 0], targets[:, 0]) == 0


def test_l1_against_canny(targets):
    torch.manual_seed(1)
    pred = torch.rand(2, 3, 1, 32, 32, requires_grad=True)
    loss = EdgeLoss(sigma=2.0)(pred, targets)
    expected = (pred - canny_edges(targets.flatten(0, 1)).reshape(pred.shape)).abs().mean()
    assert torch.allclose(loss, expected)
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_shape_checks(targets):
    with pytest.raises(ValueError, match=r"pred_edges must be \(\*, 1, H, W\)"):
        edge_loss(torch.zeros(2, 3, 3, 32, 32), targets)
    with pytest.raises(ValueError, match="do not match"):
        edge_loss(torch.zeros(2, 2, 1, 32, 32), targets)
