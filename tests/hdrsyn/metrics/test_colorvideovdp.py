"""ColorVideoVDP wrapper: offline on CPU, 10 JOD for identical images, lower for degraded ones."""

from __future__ import annotations

import socket

import pytest
import torch

from hdrsyn.metrics.display import pixels_per_degree
from hdrsyn.metrics.normalization import normalize_hdr

pycvvdp = pytest.importorskip("pycvvdp")
from hdrsyn.metrics.colorvideovdp import ColorVideoVDP  # noqa: E402


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_identical_scores_ten_and_degradation_scores_lower(no_network, hdr_pair) -> None:
    _, target = hdr_pair
    target = target[:2, :, :32, :32].float()
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(target.shape, generator=g)
    metric = ColorVideoVDP()
    for strength in (0.0, 0.05, 0.3):
        metric.update(target * (1 + strength * noise).clamp_min(0), target)
    jod = metric.per_image().view(3, 2)
    torch.testing.assert_close(jod[0], torch.full((2,), 10.0), rtol=0, atol=1e-4)
    assert (jod[1] < 10 - 1e-3).all() and (jod[2] < jod[1]).all()
    assert set(metric.compute()) == {"cvvdp", "cvvdp_std"}


def test_equals_a_direct_cvvdp_call_on_the_normalised_pair(no_network, hdr_pair) -> None:
    pred, target = (x[:1, :, :32, :32].float() for x in hdr_pair)
    metric = ColorVideoVDP()
    metric.update(pred, target)
    pred_n, target_n = normalize_hdr(pred, target)
    geometry = pycvvdp.vvdp_display_geometry((1920, 1200), ppd=pixels_per_degree(24, (1920, 1200), 0.5))
    reference = pycvvdp.cvvdp(
        display_name="standard_hdr_linear", display_geometry=geometry, device=torch.device("cpu"), quiet=True
    )
    expected, _ = reference.predict(pred_n[0], target_n[0], dim_order="CHW")
    assert metric.per_image().item() == pytest.approx(expected.item(), abs=1e-5)
    assert metric.ppd == pytest.approx(33.51, abs=0.01)


def test_rejects_a_display_encoded_display() -> None:
    with pytest.raises(ValueError, match="display-encoded"):
        ColorVideoVDP(display="standard_4k")
