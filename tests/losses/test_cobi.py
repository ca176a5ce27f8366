from pathlib import Path

import pytest
import torch
import torchvision
from torch import nn

from losses import CoBiLoss, VGG19Features, contextual_bilateral_loss


@pytest.fixture(scope="module")
def vgg_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised torchvision VGG-19 state dict (stands in for vgg19-dcbb9e9d.pth)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("vgg") / "vgg19-random.pth"
    torch.save(torchvision.models.vgg19(weights=None).state_dict(), path)
    return path


@pytest.fixture(scope="module")
def cobi(vgg_weights: Path) -> CoBiLoss:
    return CoBiLoss(vgg_weights)


@pytest.fixture
def image() -> torch.Tensor:
    torch.manual_seed(1)
    base = torch.rand(1, 3, 16, 16)
    return nn.functional.interpolate(base, size=64, mode="bilinear", align_corners=False)


class Patches(nn.Module):
    """Stand-in extractor: a random 3x3 conv at full and half resolution."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(2)
        self.conv = nn.Conv2d(3, 8, 3, padding=1)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = self.conv(x)
        return [features, nn.functional.avg_pool2d(features, 2)]


@pytest.mark.parametrize("path", [None, "/nonexistent/vgg19-dcbb9e9d.pth"])
def test_missing_weights_explain(path):
    with pytest.raises(FileNotFoundError, match="cannot be downloaded.*vgg19-dcbb9e9d.pth"):
        CoBiLoss(path)


def test_loads_local_vgg19(cobi, vgg_weights):
    reference = torchvision.models.vgg19(weights=None)
    reference.load_state_dict(torch.load(vgg_weights, weights_only=True))
    assert torch.equal(cobi.features.body[25].weight, reference.features[25].weight)
    assert not any(p.requires_grad for p in cobi.features.parameters())
    relu3_4, relu4_4 = cobi.features(torch.rand(1, 3, 64, 64))
    assert relu3_4.shape == (1, 256, 16, 16) and relu4_4.shape == (1, 512, 8, 8)
    with pytest.raises(ValueError, match="unknown VGG-19 layers"):
        VGG19Features(vgg_weights, ["conv9_9"])


def test_identical_near_zero_shifted_larger(cobi, image):
    same = cobi(image, image)
    shifted = cobi(image, torch.roll(image, shifts=8, dims=-1))
    different = cobi(image, torch.rand_like(image))
    assert same.abs() < 1e-3
    assert shifted > same + 0.05
    assert different > same + 0.05


def test_gradient_finite(cobi, image):
    pred = torch.roll(image, shifts=4, dims=-2).requires_grad_()
    cobi(pred, image).backward()
    assert torch.isfinite(pred.grad).all()
    assert pred.grad.abs().sum() > 0


def test_weights_settable_and_injected_features():
    torch.manual_seed(4)
    image = torch.rand(1, 3, 32, 32)
    target = torch.roll(image, shifts=8, dims=-1)
    paper = CoBiLoss(features=Patches())
    authors = CoBiLoss(features=Patches(), spatial_weight=0.5, bandwidth=0.5)
    assert paper(image, image).abs() < 1e-3
    assert not torch.allclose(paper(image, target), authors(image, target))
    stacked = paper(image[None].expand(1, 2, -1, -1, -1), target[None].expand(1, 2, -1, -1, -1))
    assert torch.allclose(stacked, paper(image, target), rtol=1e-4)


def test_functional_on_features():
    torch.manual_seed(3)
    features = torch.randn(2, 16, 6, 6)
    assert contextual_bilateral_loss(features, features).abs() < 1e-3
    assert contextual_bilateral_loss(features, torch.randn(2, 16, 6, 6)) > 0.1
    with pytest.raises(ValueError, match="bandwidth"):
        contextual_bilateral_loss(features, features, bandwidth=0)
