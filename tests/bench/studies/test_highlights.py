"""``python -m bench.studies.highlights``: the split scores isolate the invented highlights from the seen pixels."""

from __future__ import annotations

import pytest
import torch

from bench.studies.highlights import highlight_mask, main, split_scores, table


@pytest.fixture
def scene() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 32-px HDR (right quarter 4-16x brighter), its 8-bit-like input clipped there, and the highlight mask."""
    gen = torch.Generator().manual_seed(0)
    hdr = torch.rand(1, 3, 32, 32, generator=gen) * 0.5 + 0.05
    hdr[..., 24:] *= 4 + 12 * torch.rand(1, 3, 32, 8, generator=gen)
    ldr = hdr[0].clamp(0, 1) ** (1 / 2.2)
    return ldr, hdr, highlight_mask(ldr)


def test_the_mask_is_the_clipped_region(scene) -> None:
    ldr, _, mask = scene
    assert mask.shape == (1, 1, 32, 32)
    assert bool(mask[..., 24:].eq(1).all()) and bool(mask[..., :24].eq(0).all())
    with pytest.raises(ValueError, match="threshold"):
        highlight_mask(ldr, 0.0)


def test_a_perfect_method_is_perfect_everywhere(scene) -> None:
    _, hdr, mask = scene
    out = split_scores(hdr * 3.0, hdr, mask, jod=False)  # any global scale (undone up to float rounding)
    assert min(out["pu21"], out["pu21_hl"], out["pu21_seen"]) > 100
    assert out["bias"] == pytest.approx(0.0, abs=1e-5) and out["spread"] == pytest.approx(0.0, abs=1e-5)


def test_clipped_highlights_are_charged_to_the_highlights_only(scene) -> None:
    """x^2.2 of the input: exact where the input saw the scene, too dim where it clipped."""
    ldr, hdr, mask = scene
    out = split_scores(ldr[None] ** 2.2, hdr, mask, jod=False)
    assert out["pu21_seen"] > 60  # float rounding of the gamma round trip
    assert out["pu21_hl"] < 40 and out["pu21"] == pytest.approx(out["pu21_hl"], abs=0.5)
    true_stops = torch.log2(hdr[..., 24:].mean(1)).mean()  # the clipped input holds 1.0 there
    assert out["bias"] == pytest.approx(-float(true_stops), abs=0.3) and out["bias"] < -1


def test_jod_columns_when_cvvdp_is_installed(scene) -> None:
    pytest.importorskip("pycvvdp")
    ldr, hdr, mask = scene
    out = split_scores(ldr[None] ** 2.2, hdr, mask)
    assert out["jod_seen"] > out["jod_hl"] and out["jod_seen"] > 9.5


def test_report_of_the_references_on_the_real_camera(tmp_path, monkeypatch) -> None:
    """The command on the Memorial group with the two references: one table, x^2.2's highlights too dim."""
    monkeypatch.setattr("bench.studies.highlights.cvvdp_available", lambda: False)  # PU21 only: fast
    output = tmp_path / "h.md"
    main(["--groups", "memorial", "-o", str(output)])
    text = output.read_text()
    assert "% of the pixels are highlights" in text and "| x^2.2 |" in text and "| analytic stack |" in text
    row = next(line for line in text.splitlines() if line.startswith("| x^2.2 |")).split("|")
    header = next(line for line in text.splitlines() if line.startswith("| method |")).split("|")
    bias = float(row[[c.strip() for c in header].index("bias (stops)")])
    assert bias < 0


def test_table_shows_a_dash_for_missing_columns() -> None:
    lines = table({"a": [{"pu21": 20.0, "bias": -0.5}], "b": [{"pu21": 22.0}]})
    assert lines[0] == "| method | PU21 full | bias (stops) |"
    assert lines[2] == "| a | 20.00 | -0.50 |" and lines[3] == "| b | 22.00 | — |"
