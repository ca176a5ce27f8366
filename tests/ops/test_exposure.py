import pytest
import torch
from torch.autograd import gradcheck

from ops.exposure import ExposureShift, exposure_shift, exposure_stack


def test_matches_linearise_scale_reencode() -> None:
    x = torch.rand(2, 3, 8, 8, dtype=torch.float64)
    for ev in (-3.0, -1.0, 0.5, 2.0):
        expected = ((x**2.2) * 2.0**ev) ** (1 / 2.2)
        torch.testing.assert_close(exposure_shift(x, ev), expected.clamp(0, 1))


def test_clips_and_composes() -> None:
    x = torch.linspace(0, 1, 101)
    up = exposure_shift(x, 1.0)
    assert up.max() == 1 and (up[x > 2 ** (-1 / 2.2)] == 1).all()
    torch.testing.assert_close(exposure_shift(exposure_shift(x, 1.0), 1.0), exposure_shift(x, 2.0))
    torch.testing.assert_close(exposure_shift(exposure_shift(x, -1.0), -2.0), exposure_shift(x, -3.0))
    assert exposure_shift(torch.tensor([-0.5]), 1.0).item() == 0


def test_stack_is_one_shift_per_ev() -> None:
    x = torch.rand(2, 3, 4, 4)
    stack = exposure_stack(x, [-2, 0, 3], gamma=2.0)
    assert stack.shape == (2, 3, 3, 4, 4)
    for i, ev in enumerate((-2.0, 0.0, 3.0)):
        torch.testing.assert_close(stack[:, i], exposure_shift(x, ev, 2.0))


def test_gradcheck_and_module() -> None:
    x = (torch.rand(1, 3, 4, 4, dtype=torch.float64) * 0.5).requires_grad_(True)
    assert gradcheck(lambda v: exposure_shift(v, -1.5), (x,))
    module = ExposureShift(-1.0, gamma=2.0)
    torch.testing.assert_close(module(x), exposure_shift(x, -1.0, 2.0))
    assert "ev=-1.0" in repr(module)


@pytest.mark.parametrize(("ev", "gamma"), [(1.0, 0.0), (1.0, -2.2), (float("inf"), 2.2), (float("nan"), 2.2)])
def test_bad_arguments(ev: float, gamma: float) -> None:
    with pytest.raises(ValueError, match="gamma|ev"):
        exposure_shift(torch.ones(1), ev, gamma)
