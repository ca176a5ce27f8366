import pytest
import torch

from lightning_modules.diffhdrsyn.model import ConditionalInstanceNorm2d, LocalUNet


@pytest.fixture
def grey_and_edges() -> torch.Tensor:
    torch.manual_seed(0)
    grey = torch.rand(2, 1, 32, 32) * 2 - 1
    edges = (torch.rand(2, 1, 32, 32) > 0.8).float()
    return torch.cat([grey, edges], dim=1)


@torch.no_grad()
def test_paper_width_shapes():
    torch.manual_seed(0)
    net = LocalUNet()
    x = torch.cat([torch.rand(1, 1, 64, 64) * 2 - 1, (torch.rand(1, 1, 64, 64) > 0.8).float()], dim=1)
    edges, hidden = net(x, style=1)
    assert edges.shape == (1, 1, 64, 64)
    assert hidden.shape == (1, 256, 4, 4)
    assert edges.min() >= 0 and edges.max() <= 1


@torch.no_grad()
def test_recurrence_and_styles(grey_and_edges):
    torch.manual_seed(1)
    net = LocalUNet(4, 16)
    for module in net.modules():
        if isinstance(module, ConditionalInstanceNorm2d):
            torch.nn.init.normal_(module.weight, 1.0, 0.5)
    first, hidden = net(grey_and_edges, 0)
    assert not torch.allclose(first, net(grey_and_edges, 0, hidden)[0])
    assert not torch.allclose(first, net(grey_and_edges, 1)[0])


def test_bad_size():
    with pytest.raises(ValueError, match="H and W must be multiples of 16 for the local net, got 24x32"):
        LocalUNet(4, 16)(torch.zeros(1, 2, 24, 32))
