import pytest
import torch

from lightning_modules.diffhdrsyn.model import ConditionalInstanceNorm2d, ConvGRUCell, GlobalUNet


@pytest.fixture
def image() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(2, 3, 32, 32) * 2 - 1


@pytest.fixture
def tiny() -> GlobalUNet:
    torch.manual_seed(1)
    net = GlobalUNet(base_channels=4, max_channels=16, num_styles=3)
    for module in net.modules():  # distinct styles; at init every style is the identity affine
        if isinstance(module, ConditionalInstanceNorm2d):
            torch.nn.init.normal_(module.weight, 1.0, 0.5)
            torch.nn.init.normal_(module.bias, 0.0, 0.5)
    return net


@torch.no_grad()
def test_paper_width_shapes():
    torch.manual_seed(0)
    net = GlobalUNet()
    out, hidden = net(torch.rand(1, 3, 64, 64) * 2 - 1, style=2)
    assert out.shape == (1, 3, 64, 64)
    assert hidden.shape == (1, 1024, 2, 2)
    assert out.abs().max() <= 1


@torch.no_grad()
def test_residual_average_with_input(tiny, image):
    torch.nn.init.zeros_(tiny.head.weight)
    torch.nn.init.zeros_(tiny.head.bias)
    out, _ = tiny(image)
    assert torch.allclose(out, image / 2)


@torch.no_grad()
def test_hidden_state_changes_output(tiny, image):
    out0, hidden = tiny(image, 1)
    again, _ = tiny(image, 1)
    carried, new_hidden = tiny(image, 1, hidden)
    assert torch.equal(out0, again)
    assert not torch.allclose(out0, carried)
    assert not torch.allclose(hidden, new_hidden)


@torch.no_grad()
def test_style_selects_cin(tiny, image):
    assert not torch.allclose(tiny(image, 0)[0], tiny(image, 2)[0])


@torch.no_grad()
def test_ablations_remove_components(image):
    net = GlobalUNet(4, 16, num_styles=None, use_gru=False)
    assert not any(isinstance(m, (ConvGRUCell, ConditionalInstanceNorm2d)) for m in net.modules())
    out, hidden = net(image, style=2)
    assert hidden is None
    assert torch.equal(out, net(image, style=0)[0])
    with pytest.raises(ValueError, match="no GRU"):
        net(image, 0, torch.zeros(2, 16, 1, 1))


def test_bad_size(tiny):
    with pytest.raises(ValueError, match="H and W must be multiples of 32 for the global net, got 48x64"):
        tiny(torch.zeros(1, 3, 48, 64))
    with pytest.raises(ValueError, match="Shape mismatch at dimension 1: expected 3, got 4"):
        tiny(torch.zeros(1, 4, 32, 32))
