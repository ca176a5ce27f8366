import pytest
import torch

from losses import EdgeLoss, edge_loss
from ops.edges import canny_edges


@pytest.fixture
def target_edges() -> torch.Tensor:
    """(B, E, 1, H, W) Canny edge maps of stacks with a bright square, which has clear edges."""
    torch.manual_seed(0)
    images = torch.rand(2, 3, 3, 32, 32) * 0.1
    images[..., 8:24, 8:24] += 0.8
    return canny_edges(images.flatten(0, 1)).reshape(2, 3, 1, 32, 32)


def test_zero_for_the_target_edges(target_edges):
    assert target_edges.sum() > 0
    assert edge_loss(target_edges, target_edges) == 0
    assert edge_loss(target_edges[:, 0], target_edges[:, 0]) == 0


def test_l1_against_the_target_edges(target_edges):
    torch.manual_seed(1)
    pred = torch.rand(2, 3, 1, 32, 32, requires_grad=True)
    loss = EdgeLoss()(pred, target_edges)
    assert torch.allclose(loss, (pred - target_edges).abs().mean())
    loss.backward()
    assert torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_shape_checks(target_edges):
    with pytest.raises(ValueError, match=r"pred_edges must be \(\*, 1, H, W\)"):
        edge_loss(torch.zeros(2, 3, 3, 32, 32), target_edges)
    with pytest.raises(ValueError, match="do not match"):
        edge_loss(torch.zeros(2, 2, 1, 32, 32), target_edges)
