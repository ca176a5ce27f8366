import pytest
import torch

from lightning_modules.diffhdrsyn.model import ConditionalInstanceNorm2d, ConvGRUCell, RefineUNet


@pytest.fixture
def inputs() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    return torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 3, 32, 32) * 2 - 1, torch.rand(2, 1, 32, 32)


@torch.no_grad()
def test_paper_width_shapes():
    torch.manual_seed(0)
    net = RefineUNet()
    image, global_image = torch.rand(2, 1, 3, 64, 64) * 2 - 1
    out = net(image, global_image, torch.rand(1, 1, 64, 64))
    assert out.shape == (1, 3, 64, 64)
    assert net.trunk.stem[0].in_channels == 7
    assert not any(isinstance(m, (ConvGRUCell, ConditionalInstanceNorm2d)) for m in net.modules())


@torch.no_grad()
def test_residual_average_with_global(inputs):
    net = RefineUNet(4, 16)
    torch.nn.init.zeros_(net.head.weight)
    torch.nn.init.zeros_(net.head.bias)
    image, global_image, edges = inputs
    assert torch.allclose(net(image, global_image, edges), global_image / 2)


@torch.no_grad()
def test_without_edges(inputs):
    image, global_image, edges = inputs
    net = RefineUNet(4, 16, use_edges=False)
    assert net.trunk.stem[0].in_channels == 6
    assert net(image, global_image).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="edges must be None"):
        net(image, global_image, edges)
    with pytest.raises(ValueError, match="edges must be given"):
        RefineUNet(4, 16)(image, global_image)


def test_bad_size():
    with pytest.raises(ValueError, match="multiples of 32 for the refinement net, got 16x16"):
        RefineUNet(4, 16)(torch.zeros(1, 3, 16, 16), torch.zeros(1, 3, 16, 16), torch.zeros(1, 1, 16, 16))
