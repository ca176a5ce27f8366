import torch
from torch.autograd import gradcheck

from ops.linearize import LogInverseCRF, apply_log_inverse_crf


def table(b: int = 2, c: int = 3) -> torch.Tensor:
    levels = torch.arange(256, dtype=torch.float64) / 255
    curve = torch.log(levels.clamp_min(1e-3)) * 2.2
    return curve.expand(b, c, 256).clone() + torch.arange(c, dtype=torch.float64).view(1, c, 1) * 0.1


def test_exact_at_levels() -> None:
    g = table()
    levels = torch.arange(256, dtype=torch.float64) / 255
    stack = levels.view(1, 1, 1, 16, 16).expand(2, 2, 3, 16, 16)
    out = apply_log_inverse_crf(stack, g)
    torch.testing.assert_close(out[0, 0, 1].flatten(), g[0, 1])


def test_slope_is_scaled_backward_difference() -> None:
    """Eq. 3 with the x255 factor the authors' code forgot: dg/dx at x = k/255 is 255 (g[k] - g[k-1])."""
    g = table(1, 3)
    k = torch.tensor([0, 1, 37, 128, 255])
    x = (k.double() / 255).view(1, 1, 1, 1, 5).expand(1, 1, 3, 1, 5).clone().requires_grad_(True)
    apply_log_inverse_crf(x, g).sum().backward()
    expected = 255 * (g[0, 0, k.clamp_min(1)] - g[0, 0, (k - 1).clamp_min(0)])
    expected[0] = 255 * (g[0, 0, 1] - g[0, 0, 0])  # slope at 0: the first segment's
    torch.testing.assert_close(x.grad[0, 0, 0, 0], expected)


def test_gradcheck_float64() -> None:
    g = table(1, 3)
    # keep points away from the kinks at k/255 where the one-sided slopes differ
    x = ((torch.randint(0, 255, (1, 2, 3, 4, 4)) + torch.rand(1, 2, 3, 4, 4) * 0.8 + 0.1) / 255).double()
    assert gradcheck(lambda s: apply_log_inverse_crf(s, g), (x.requires_grad_(True),), eps=1e-7, atol=1e-6)


def test_module_float32() -> None:
    out = LogInverseCRF()(torch.rand(2, 3, 3, 8, 8), table().float())
    assert out.shape == (2, 3, 3, 8, 8) and out.dtype == torch.float32
