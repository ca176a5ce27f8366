"""UpBlock's fuse-before-upsample form equals the paper's upsample-concat-fuse, values and gradients."""

import pytest
import torch
import torch.nn.functional as F

from lightning_modules.diffhdrsyn.model.blocks import ConditionalInstanceNorm2d
from lightning_modules.diffhdrsyn.model.unet import UNetTrunk, UpBlock


def concat_form(block: UpBlock, x: torch.Tensor, skip: torch.Tensor, style: int) -> torch.Tensor:
    """The decoder level as written in the paper: upsample, concatenate, 1x1 Swish conv, conv, norm, Swish."""
    x = F.interpolate(x, scale_factor=2.0, mode="bilinear", align_corners=False)
    x = block.conv(block.fuse(torch.cat([x, skip], dim=1)))
    x = block.norm(x, style) if isinstance(block.norm, ConditionalInstanceNorm2d) else block.norm(x)
    return F.silu(x)


@pytest.mark.parametrize("num_styles", [3, None])
@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_up_block_equals_the_concat_form(num_styles: int | None, batch: int, memory_format: torch.memory_format) -> None:
    torch.manual_seed(0)
    block = UpBlock(16, 16, 8, num_styles).double()
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)  # non-trivial norm affine
    x0 = torch.randn(batch, 16, 8, 8, dtype=torch.float64).contiguous(memory_format=memory_format)
    skip0 = torch.randn(batch, 16, 16, 16, dtype=torch.float64).contiguous(memory_format=memory_format)
    upstream = torch.randn(batch, 8, 16, 16, dtype=torch.float64)
    results = []
    for form in (block, lambda x, s, style: concat_form(block, x, s, style)):
        x, skip = x0.clone().requires_grad_(), skip0.clone().requires_grad_()
        out = form(x, skip, 1)
        grads = torch.autograd.grad((out * upstream).sum(), [x, skip, *block.parameters()])
        results.append((out, grads))
    (out, grads), (ref, ref_grads) = results
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, ref, atol=1e-12)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g, r, atol=1e-10)


@pytest.mark.parametrize("num_styles", [3, None])
def test_up_block_inference_equals_the_concat_form(num_styles: int | None) -> None:
    """Without autograd (fused conv + Swish, channels-last instance norm) the values are the same."""
    torch.manual_seed(0)
    block = UpBlock(16, 16, 8, num_styles)
    with torch.no_grad():
        for p in block.parameters():
            p.add_(torch.randn_like(p) * 0.1)
        x, skip = torch.randn(2, 16, 64, 64), torch.randn(2, 16, 128, 128)
        out = block(x, skip, torch.tensor([2, 0]) if num_styles else 0)
        ref = torch.cat([concat_form(block, x[i : i + 1], skip[i : i + 1], s) for i, s in enumerate([2, 0])]) \
            if num_styles else concat_form(block, x, skip, 0)
    assert out.is_contiguous(memory_format=torch.channels_last)
    assert torch.allclose(out, ref, atol=1e-5)


def test_trunk_features_are_channels_last_whatever_the_input() -> None:
    trunk = UNetTrunk(3, 4, 16, 2, 3, True, "test net")
    features, hidden = trunk(torch.rand(1, 3, 16, 16))
    assert features.shape == (1, 4, 16, 16) and features.is_contiguous(memory_format=torch.channels_last)
