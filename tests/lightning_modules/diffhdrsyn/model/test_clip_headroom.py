"""The learned headroom of clipped channels in the stop-down shift."""

from __future__ import annotations

import pytest
import torch

from lightning_modules.diffhdrsyn import StackGenerator
from lightning_modules.diffhdrsyn.model import ClipHeadroom, GlobalUNet
from ops.exposure import exposure_shift, exposure_stack


def test_untrained_it_takes_the_clip_at_its_word() -> None:
    x = torch.rand(2, 3, 8, 8)
    x[..., :2, :2] = 1.0
    assert torch.equal(ClipHeadroom()(x), x)


def test_only_near_clipped_channels_are_raised_by_the_learned_stops() -> None:
    headroom = ClipHeadroom(start=0.96)
    with torch.no_grad():
        headroom.raw.fill_(0.5 / headroom.scale)  # half a stop
    assert float(headroom.stops) == pytest.approx(0.5)
    x = torch.tensor([0.2, 0.96, 0.98, 1.0]).view(1, 4, 1)  # (C, H, W): one channel, no white headroom yet
    out = headroom(x).detach().flatten()
    x = x.flatten()
    assert torch.equal(out[:2], x[:2])  # below the ramp's start: unchanged
    # a clipped channel is taken half a stop above the clip: linear 2**0.5, i.e. 2**(0.5/2.2) encoded
    assert float(out[3]) == pytest.approx(2 ** (0.5 / 2.2), rel=1e-6)
    assert float(out[2]) == pytest.approx(0.98 * 2 ** (0.25 / 2.2), rel=1e-6)  # halfway up the ramp


def test_white_pixels_alone_get_the_white_headroom() -> None:
    """All three channels clipped: raised by both numbers; one or two clipped: by the per-channel one only."""
    headroom = ClipHeadroom()
    with torch.no_grad():
        headroom.raw.fill_(0.5 / headroom.scale)
        headroom.raw_white.fill_(1.0 / headroom.scale)
    assert float(headroom.white_stops) == pytest.approx(1.0)
    # pixels: white, two channels clipped, one clipped, none
    x = torch.tensor([[1.0, 1.0, 1.0, 0.5], [1.0, 1.0, 0.5, 0.5], [1.0, 0.5, 0.5, 0.5]]).view(3, 1, 4)
    out = headroom(x).detach().view(3, 4)
    assert torch.allclose(out[:, 0], torch.full((3,), 2 ** (1.5 / 2.2)))
    assert torch.allclose(out[:, 1], torch.tensor([2 ** (0.5 / 2.2), 2 ** (0.5 / 2.2), 0.5]))
    assert torch.allclose(out[:, 2], torch.tensor([2 ** (0.5 / 2.2), 0.5, 0.5]))
    assert torch.equal(out[:, 3], x.view(3, 4)[:, 3])


def test_image_without_channel_axes_is_refused() -> None:
    with pytest.raises(ValueError, match=r"\(\.\.\., C, H, W\)"):
        ClipHeadroom()(torch.ones(4))


def test_a_checkpoint_from_before_the_white_headroom_loads_as_it_was_trained() -> None:
    headroom = ClipHeadroom()
    headroom.load_state_dict({"raw": torch.tensor(0.1)})  # strict: the missing white headroom is zero
    assert float(headroom.stops) == pytest.approx(0.8) and float(headroom.white_stops) == 0.0


def test_gradcheck_float64() -> None:
    headroom = ClipHeadroom().double()
    x = torch.tensor([0.3, 0.97, 0.99, 1.02, 0.985, 0.975], dtype=torch.float64).view(3, 1, 2)  # off the kinks
    x.requires_grad_()
    raw = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    white = torch.tensor(0.07, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(
        lambda image, r, w: torch.func.functional_call(headroom, {"raw": r, "raw_white": w}, (image,)), (x, raw, white))
    headroom(x).sum().backward()
    assert headroom.raw.grad is not None and headroom.raw.grad > 0  # clipped pixels teach it
    assert headroom.raw_white.grad is not None and headroom.raw_white.grad > 0


def test_bad_start_is_refused() -> None:
    with pytest.raises(ValueError, match="start must be in"):
        ClipHeadroom(start=1.0)


def test_the_stop_down_nets_alone_have_it_and_start_at_the_analytic_shift() -> None:
    generator = StackGenerator("tiny")
    assert generator.down.global_net.clip_headroom is not None and generator.up.global_net.clip_headroom is None
    x = torch.rand(1, 3, 32, 32) * 0.9  # below the ramp, except the clipped block
    x[..., :8, :8] = 1.0
    with torch.no_grad():
        assert torch.allclose(generator(x)["stack"], exposure_stack(x, range(-3, 4)), atol=1e-6)
        generator.down.global_net.clip_headroom.raw.fill_(1 / 8)  # one stop: clipped channels one stop down stay at 1
        stack = generator(x, refine=False)["stack"]
    assert torch.allclose(stack[:, 2, :, :8, :8], torch.ones(1, 3, 8, 8))
    assert torch.allclose(stack[:, 2, :, 16:, 16:], exposure_shift(x[..., 16:, 16:], -1.0), atol=1e-6)


def test_it_needs_a_stop_down_residual() -> None:
    with pytest.raises(ValueError, match="stop-down exposure residual"):
        GlobalUNet(8, 16, shift_ev=1.0, clip_headroom=True)
    with pytest.raises(ValueError, match="needs shift_residual=True"):
        StackGenerator("tiny", shift_residual=False)
