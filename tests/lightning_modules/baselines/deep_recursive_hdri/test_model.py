"""Deep recursive HDRI networks: pix2pix generator / PatchGAN shapes and sizes, recursion."""

from __future__ import annotations

import pytest
import torch

from lightning_modules.baselines.deep_recursive_hdri.model import DeepRecursiveHDRI, ExposureUNet, PatchDiscriminator


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_generator_maps_images_to_images() -> None:
    net = ExposureUNet(base_channels=4, levels=4)
    out = net(torch.rand(2, 3, 32, 48))
    assert out.shape == (2, 3, 32, 48)
    assert out.min() >= 0 and out.max() <= 1


def test_generator_at_paper_width_is_pix2pix_sized() -> None:
    """Base 64, 8 levels (pix2pix's U-Net-256): 54.4 M parameters per direction."""
    with torch.device("meta"):
        assert count(ExposureUNet(64, 8)) == 54_424_963


def test_generator_rejects_sizes_it_cannot_halve() -> None:
    with pytest.raises(ValueError, match="multiples of 16"):
        ExposureUNet(4, 4)(torch.rand(1, 3, 40, 40))


def test_discriminator_scores_patches() -> None:
    disc = PatchDiscriminator(base_channels=4)
    scores = disc(torch.rand(2, 3, 64, 64), torch.rand(2, 3, 64, 64))
    assert scores.shape == (2, 1, 6, 6)
    with torch.device("meta"):
        assert count(PatchDiscriminator(64)) == 2_769_601  # pix2pix's 70x70 PatchGAN on 6 input channels


def test_stack_is_the_recursion_of_each_direction() -> None:
    torch.manual_seed(0)
    model = DeepRecursiveHDRI(base_channels=4, levels=4, num_steps=3).eval()
    ldr = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        stack = model(ldr)
        up1, down1 = model.up(ldr), model.down(ldr)
        up3 = model.up(model.up(up1))
    assert stack.shape == (1, 7, 3, 32, 32)
    assert torch.equal(stack[:, 3], ldr)
    torch.testing.assert_close(stack[:, 4], up1)
    torch.testing.assert_close(stack[:, 2], down1)
    torch.testing.assert_close(stack[:, 6], up3)
