"""``full_precision``: the HDR layer, Canny and the sensitive losses keep float32 inside autocast."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from lightning_modules.baselines.expandnet.loss import expandnet_loss
from lightning_modules.baselines.hdrcnn.loss import hdrcnn_loss
from losses.cobi import contextual_bilateral_loss
from losses.hdr import hdr_loss
from losses.histogram import soft_histogram
from ops.edges import canny_edges
from ops.hdr_synthesis import synthesize_hdr
from ops.precision import full_precision


def bf16_autocast() -> torch.autocast:
    return torch.autocast("cpu", dtype=torch.bfloat16)


def test_casts_half_arguments_and_switches_autocast_off_inside_autocast_only() -> None:
    seen = {}

    @full_precision
    def probe(x: torch.Tensor, y: torch.Tensor, scale: float, z: torch.Tensor | None = None) -> torch.Tensor:
        seen.update(dtypes=(x.dtype, y.dtype, z.dtype), autocast=torch.is_autocast_enabled("cpu"))
        return torch.mm(x, x) * scale

    x = torch.rand(4, 4, dtype=torch.bfloat16, requires_grad=True)
    y = torch.rand(2, dtype=torch.float64)
    with bf16_autocast():
        out = probe(x, y, 2.0, z=torch.rand(2, dtype=torch.float16))
    assert seen == {"dtypes": (torch.float32, torch.float64, torch.float32), "autocast": False}
    assert out.dtype == torch.float32  # the matmul was not autocast to bf16
    out.sum().backward()
    assert x.grad is not None and x.grad.dtype == torch.bfloat16  # the cast is differentiable
    probe(x, y, 2.0, z=torch.rand(2, dtype=torch.float16))
    assert seen == {"dtypes": (torch.bfloat16, torch.float64, torch.float16), "autocast": False}


@pytest.fixture()
def batch_stack() -> tuple[torch.Tensor, torch.Tensor]:
    """A sorted random ``(1, 5, 3, 32, 32)`` stack and its increasing exposure times."""
    torch.manual_seed(0)
    return torch.rand(1, 5, 3, 32, 32).sort(dim=1).values, torch.exp2(torch.arange(-2.0, 3.0))[None]


def test_synthesize_hdr_in_float32_under_autocast(batch_stack: tuple[torch.Tensor, torch.Tensor]) -> None:
    stack, times = batch_stack
    half = stack.bfloat16().requires_grad_()
    with bf16_autocast():
        radiance, inverse_crf = synthesize_hdr(half, times)
    expected, expected_crf = synthesize_hdr(half.detach().float(), times)
    assert radiance.dtype == inverse_crf.dtype == torch.float32
    torch.testing.assert_close(radiance, expected, rtol=0, atol=0)
    torch.testing.assert_close(inverse_crf, expected_crf, rtol=0, atol=0)
    radiance.log().mean().backward()
    assert half.grad is not None and half.grad.dtype == torch.bfloat16 and half.grad.abs().sum() > 0


def _images(*shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=torch.Generator().manual_seed(sum(shape)))


SENSITIVE: dict[str, tuple[Callable[..., torch.Tensor], Callable[[], tuple]]] = {
    "soft_histogram": (soft_histogram, lambda: (_images(2, 3, 16, 16),)),
    "canny_edges": (canny_edges, lambda: (_images(2, 3, 32, 32),)),
    "hdr_loss": (hdr_loss, lambda: (_images(1, 3, 8, 8) * 4, _images(1, 3, 8, 9)[..., :8] * 4)),
    "cobi": (contextual_bilateral_loss, lambda: (_images(1, 16, 8, 8), _images(1, 16, 8, 9)[..., :8])),
    "expandnet_loss": (expandnet_loss, lambda: (_images(1, 3, 8, 8), _images(1, 3, 8, 9)[..., :8])),
    "hdrcnn_loss": (hdrcnn_loss, lambda: (_images(1, 3, 16, 16) - 1, _images(1, 3, 16, 17)[..., :16],
                                          _images(1, 1, 16, 16))),
}


@pytest.mark.parametrize("name", sorted(SENSITIVE))
def test_sensitive_functions_compute_in_float32_under_autocast(name: str) -> None:
    """bf16 inputs inside autocast give exactly the float32 result of the same (bf16-rounded) values."""
    function, make = SENSITIVE[name]
    inputs = [x.bfloat16() for x in make()]
    with bf16_autocast():
        result = function(*inputs)
    expected = function(*(x.float() for x in inputs))
    assert result.dtype == torch.float32
    torch.testing.assert_close(result, expected, rtol=0, atol=0)
