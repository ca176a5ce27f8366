"""``python -m bench.studies.unseen_responses``: the curves are the textbook ones and the views are rendered
through them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.studies.scoring import held_out, score, views
from bench.studies.unseen_responses import RESPONSES, log_curve, srgb, srgb_s_curve


def test_srgb_is_the_iec_curve() -> None:
    # IEC 61966-2-1: 0.0031308 -> 0.04045 (both branches meet), 0.18 -> 0.4614, 1 -> 1
    assert srgb(np.array([0.0031308]))[0] == pytest.approx(0.04045, abs=1e-5)
    assert srgb(np.array([0.18]))[0] == pytest.approx(0.4614, abs=1e-4)
    assert srgb(np.array([1.0]))[0] == pytest.approx(1.0)


@pytest.mark.parametrize("curve", [srgb, srgb_s_curve, log_curve])
def test_curves_are_monotone_responses_from_0_to_1(curve) -> None:
    y = curve(np.linspace(0.0, 1.0, 1024))
    assert y[0] == pytest.approx(0.0, abs=1e-7) and y[-1] == pytest.approx(1.0)
    assert np.all(np.diff(y) > 0)


def test_views_are_rendered_through_the_response() -> None:
    """Noise-free sRGB views: one stop more multiplies unclipped linearised levels by 2; the analytic
    exposure stack (which assumes gamma 2.2, close to sRGB) scores well above the EMoR-rendered set's."""
    held = held_out(32)
    srgb_views = views(held, RESPONSES["sRGB"])
    assert len(srgb_views) == 24
    ldr, hdr, stack = srgb_views[0]
    assert ldr.shape == (3, 32, 32) and hdr.shape == (1, 3, 32, 32) and stack.shape == (7, 3, 32, 32)
    assert torch.equal(ldr, stack[3])
    linear = lambda v: torch.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)  # noqa: E731
    ok = (stack[3] > 0.1) & (stack[4] < 0.9)
    ratio = (linear(stack[4])[ok] / linear(stack[3])[ok]).median()
    assert ratio == pytest.approx(2.0, rel=0.03)  # 8-bit rounding
    emor = views(held, None)
    analytic = lambda data: np.mean([score("analytic stack", None, *v)["pu21"] for v in data[:6]])  # noqa: E731
    assert analytic(srgb_views) > analytic(emor) + 2


def test_bar_chart_writes_a_png(tmp_path) -> None:
    from bench.studies.unseen_responses import bar_chart

    bar_chart({"sRGB": {"x^2.2": 26.3, "model": 27.0}, "log": {"x^2.2": 20.9, "model": 25.1}}, tmp_path / "c.png")
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_test_scenes_and_jod() -> None:
    """``--scenes test`` renders the 6 test scenes' 48 views; ``score`` gives the JOD of ``lightning test``
    (10 for a perfect reconstruction) when ColorVideoVDP is installed."""
    from hdrsyn.metrics import cvvdp_available

    test = held_out(32, "test")
    assert len(test) == 48 and not {n.rsplit("_", 1)[0] for n in test.names} & {"lab", "venice", "night"}
    ldr = torch.rand(3, 32, 32) * 0.8 + 0.1
    scores = score("x^2.2", None, ldr, ldr[None].pow(2.2))
    assert scores["pu21"] > 60
    if cvvdp_available():
        assert scores["jod"] == pytest.approx(10.0, abs=1e-3)
    else:
        assert "jod" not in scores
