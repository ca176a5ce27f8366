import math

import torch
from torch.autograd import gradcheck

from ops.linearize import apply_log_inverse_crf
from ops.merge import merge_log_radiance


def gamma_table(c: int = 3) -> torch.Tensor:
    levels = torch.arange(256, dtype=torch.float64) / 255
    return (2.2 * torch.log(levels.clamp_min(1 / 255))).expand(1, c, 256).clone()


def test_recovers_radiance_of_a_gamma_camera() -> None:
    radiance = torch.exp(torch.linspace(-4, 0, 64, dtype=torch.float64)).view(1, 1, 1, 8, 8).expand(1, 1, 3, 8, 8)
    times = torch.tensor([[0.25, 1.0, 4.0]], dtype=torch.float64)
    stack = (radiance * times.view(1, 3, 1, 1, 1)).clamp(0, 1) ** (1 / 2.2)
    log_e = merge_log_radiance(stack, gamma_table(), times.log())
    torch.testing.assert_close(log_e, radiance[:, 0].log(), atol=1e-2, rtol=0)


def test_all_saturated_and_all_black_fall_back() -> None:
    stack = torch.zeros(1, 3, 3, 2, 2, dtype=torch.float64)
    stack[..., 0, :] = 1.0  # top row white in every exposure, bottom row black in every exposure
    times = torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64)
    log_e = merge_log_radiance(stack, gamma_table(), times.log())
    assert torch.isfinite(log_e).all()
    # white -> shortest exposure's g(1) - ln t_min; black -> longest exposure's g(0) - ln t_max
    torch.testing.assert_close(log_e[0, :, 0], torch.full((3, 2), 0.0 - math.log(0.5), dtype=torch.float64))
    torch.testing.assert_close(
        log_e[0, :, 1], torch.full((3, 2), 2.2 * math.log(1 / 255) - math.log(2.0), dtype=torch.float64)
    )
    assert (log_e[0, :, 0] > log_e[0, :, 1]).all(), "white pixels must not become dark holes"


def test_gradcheck_float64() -> None:
    g = gamma_table()
    times = torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64).log()
    x = ((torch.randint(1, 254, (1, 3, 3, 3, 3)) + torch.rand(1, 3, 3, 3, 3) * 0.8 + 0.1) / 255).double()
    assert gradcheck(
        lambda s: merge_log_radiance(s, g, times, detach_weights=False), (x.requires_grad_(True),), eps=1e-7, atol=1e-6
    )


def test_detached_weights_gradient_is_weight_share_times_slope() -> None:
    """With the authors' detached weights, d lnE / d Z_j = w_j / sum(w) * g'(Z_j)."""
    g = gamma_table()
    times = torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64).log()
    x = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64).view(1, 3, 1, 1, 1).expand(1, 3, 3, 1, 1).clone()
    x.requires_grad_(True)
    merge_log_radiance(x, g, times)[0, 0, 0, 0].backward()
    w = 1 - (2 * x.detach()[0, :, 0, 0, 0] - 1).abs()
    k = torch.ceil(x.detach()[0, :, 0, 0, 0] * 255).long()
    slope = 255 * (g[0, 0, k] - g[0, 0, k - 1])
    torch.testing.assert_close(x.grad[0, :, 0, 0, 0], w / w.sum() * slope)


def test_fallback_gradient_goes_to_the_fallback_exposure() -> None:
    g = gamma_table()
    times = torch.tensor([[0.5, 1.0, 2.0]], dtype=torch.float64).log()
    stack = torch.ones(1, 3, 3, 1, 2, dtype=torch.float64)
    stack[..., 1] = 0.0  # pixel 0 white everywhere, pixel 1 black everywhere
    stack.requires_grad_(True)
    merge_log_radiance(stack, g, times).sum().backward()
    grad = stack.grad[0, :, 0, 0]  # (N, pixels) of channel 0
    assert grad[0, 0] == 255 * (g[0, 0, 255] - g[0, 0, 254]) and (grad[1:, 0] == 0).all()
    assert grad[2, 1] == 255 * (g[0, 0, 1] - g[0, 0, 0]) and (grad[:2, 1] == 0).all()


def random_stack(dtype: torch.dtype = torch.float64, seed: int = 0) -> torch.Tensor:
    """(2, 3, 3, 9, 7) stack with exact 0 / 1 pixels (fallbacks) and values on and between the levels."""
    generator = torch.Generator().manual_seed(seed)
    stack = torch.rand(2, 3, 3, 9, 7, generator=generator, dtype=dtype)
    stack[:, :, :, 0, :3] = 1.0  # white in every exposure
    stack[:, :, :, 1, :3] = 0.0  # black in every exposure
    stack[:, :, :, 2] = torch.round(stack[:, :, :, 2] * 255) / 255  # on the knots
    return stack


def test_chunked_merge_equals_one_chunk(monkeypatch) -> None:
    """Forward and both gradients do not depend on how the pixels are split into chunks (odd tail included)."""
    import ops.merge

    monkeypatch.setenv("HDRSYN_NATIVE", "0")  # the PyTorch path is the chunked one
    stack, g = random_stack(), gamma_table()
    g = torch.cat([g, g + 0.1])
    times = torch.tensor([[0.5, 1.0, 2.0], [0.25, 1.0, 4.0]], dtype=torch.float64).log()
    results = []
    for chunk in (1 << 18, 2 * 3 * 10):  # one chunk; chunks of 10 pixels and a tail of 3
        monkeypatch.setattr(ops.merge, "CHUNK_ELEMENTS", chunk)
        for detach in (True, False):
            x = stack.clone().requires_grad_(True)
            out = merge_log_radiance(x, g, times, detach_weights=detach)
            (out * torch.linspace(0, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
            results.append((out.detach(), x.grad))
    for (out_one, grad_one), (out_many, grad_many) in zip(results[:2], results[2:]):
        torch.testing.assert_close(out_many, out_one, rtol=0, atol=1e-12)
        torch.testing.assert_close(grad_many, grad_one, rtol=0, atol=1e-12)


def test_channels_last_layout_gives_the_same_result_and_gradient() -> None:
    """A stack viewed from (H, W, 3) images is merged in its own memory order, with identical numbers."""
    stack, g = random_stack(), gamma_table()
    g = torch.cat([g, g])
    times = torch.tensor([[0.5, 1.0, 2.0]] * 2, dtype=torch.float64).log()
    hwc = stack.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    assert not hwc.is_contiguous()
    outs, grads = [], []
    for x in (stack.clone(), hwc.clone()):
        x.requires_grad_(True)
        out = merge_log_radiance(x, g, times)
        out.square().sum().backward()
        outs.append(out.detach())
        grads.append(x.grad)
    torch.testing.assert_close(outs[1], outs[0], rtol=0, atol=1e-12)
    torch.testing.assert_close(grads[1], grads[0], rtol=0, atol=1e-12)


def test_uint8_stack_is_a_table_lookup_of_the_same_merge() -> None:
    """uint8 levels k give exactly the float merge of k / 255 (fallback pixels included), in float32."""
    levels = torch.round(random_stack(torch.float32) * 255).to(torch.uint8)
    g = torch.cat([gamma_table(), gamma_table() + 0.3])
    times = torch.tensor([[0.5, 1.0, 2.0], [0.25, 1.0, 4.0]], dtype=torch.float64).log()
    out = merge_log_radiance(levels, g, times)
    reference = merge_log_radiance(levels.double() / 255, g, times)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.double(), reference, rtol=0, atol=1e-5)


def test_half_precision_and_out_of_range_values() -> None:
    """float16 / bfloat16 index the right tables; values just outside [0, 1] extrapolate the end segments."""
    g = gamma_table().repeat(2, 1, 1) + torch.arange(6, dtype=torch.float64).view(2, 3, 1)  # a table per row
    times = torch.tensor([[0.5, 1.0, 2.0]] * 2, dtype=torch.float64).log()
    stack = random_stack(torch.float32)
    reference = merge_log_radiance(stack.double(), g, times)
    for dtype, tolerance in ((torch.float16, 0.05), (torch.bfloat16, 0.3)):
        low = merge_log_radiance(stack.to(dtype), g, times)
        assert low.dtype == dtype
        torch.testing.assert_close(low.double(), reference, rtol=0, atol=tolerance)
    x = torch.tensor([-0.002, 1.002, 0.5], dtype=torch.float64).view(1, 3, 1, 1, 1).expand(2, 3, 3, 1, 1).clone()
    w = 1 - (2 * x - 1).abs()
    values = apply_log_inverse_crf(x, g) - times[:, :, None, None, None]  # end segments extrapolate
    expected = (w * values).sum(1) / w.sum(1)
    torch.testing.assert_close(merge_log_radiance(x, g, times), expected)


def test_uint8_needs_a_256_level_table() -> None:
    import pytest

    levels = torch.zeros(1, 2, 3, 2, 2, dtype=torch.uint8)
    with pytest.raises(ValueError, match="uint8 with a 256-level"):
        merge_log_radiance(levels, torch.zeros(1, 3, 16, dtype=torch.float64), torch.zeros(1, 2))
    with pytest.raises(TypeError, match="stack must be float, or uint8"):
        merge_log_radiance(levels.long(), torch.zeros(1, 3, 256, dtype=torch.float64), torch.zeros(1, 2))
