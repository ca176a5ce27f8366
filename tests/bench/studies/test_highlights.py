"""``python -m bench.studies.highlights``: the split scores isolate the invented highlights from the seen pixels."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from bench.studies.highlights import EV_COLUMNS, highlight_mask, main, split_scores, stack_split_errors, table
from ops.exposure import exposure_stack


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


@pytest.fixture
def source() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A 32-px scene whose right quarter is a light source 4-16x above clip, its true EV -3..+3 stack (gamma 2.2,
    8-bit rounding; the input is EV 0) and the input's highlight mask."""
    gen = torch.Generator().manual_seed(0)
    hdr = torch.rand(1, 3, 32, 32, generator=gen) * 0.5 + 0.05
    hdr[..., 24:] = 4 + 12 * torch.rand(1, 3, 32, 8, generator=gen)
    exposures = torch.exp2(torch.arange(-3.0, 4.0)).view(7, 1, 1, 1)
    true_stack = ((hdr * exposures).clamp(0, 1) ** (1 / 2.2) * 255).round() / 255
    return hdr, true_stack, highlight_mask(true_stack[3])


def test_the_true_stack_has_no_error(source) -> None:
    _, true_stack, mask = source
    assert bool(mask[..., 24:].eq(1).all()) and bool(mask[..., :24].eq(0).all())
    out = stack_split_errors(true_stack, true_stack, mask)
    assert set(out) == set(EV_COLUMNS) and all(value == 0 for value in out.values())


def test_the_analytic_stack_loses_the_light_source_in_the_stop_down_exposures(source) -> None:
    """Outside the mask the exposure shift is right up to 8-bit rounding; inside, its stop-down exposures hold
    the clipped 1.0 dimmed (EV -k: 255 * 2^(-k/2.2) levels) where the source is still clipped at EV -1 and -2
    (255) and reaches 186..255 at EV -3."""
    _, true_stack, mask = source
    out = stack_split_errors(exposure_stack(true_stack[3][None], range(-3, 4))[0], true_stack, mask)
    assert max(out[f"ev{ev}_seen"] for ev in (-3, -2, -1)) < 0.5
    assert out["ev-1_hl"] == pytest.approx(255 - 255 * 2 ** (-1 / 2.2), abs=0.01)  # 68.9
    assert out["ev-2_hl"] == pytest.approx(255 - 255 * 2 ** (-2 / 2.2), abs=0.01)  # 119.2
    assert out["ev-3_hl"] == pytest.approx(144, abs=3) and out["ev-3_hl"] > out["ev-2_hl"]
    assert out["ev+1_hl"] == out["ev+2_hl"] == out["ev+3_hl"] == 0  # clipped in both
    with pytest.raises(ValueError, match=r"\(7, 3, H, W\)"):
        stack_split_errors(true_stack[:5], true_stack[:5], mask)


def test_clipped_error_is_the_mean_stop_error_in_the_highlights(source) -> None:
    hdr, _, mask = source
    assert split_scores(hdr * 3.0, hdr, mask, jod=False)["clipped_error"] == pytest.approx(0.0, abs=1e-5)
    dim = split_scores(hdr * 3.0 * (1 - 0.5 * mask), hdr, mask, jod=False)  # highlights exactly 1 stop too dim
    assert dim["clipped_error"] == pytest.approx(1.0, abs=1e-5) and dim["bias"] == pytest.approx(-1.0, abs=1e-5)


def test_an_input_without_highlights_has_no_highlight_scores(source) -> None:
    """Its highlight side would score inf (and make the mean inf); only the full and seen scores are kept."""
    hdr, _, mask = source
    out = split_scores(hdr * 2.0, hdr, mask * 0, jod=False)
    assert set(out) == {"pu21", "pu21_seen"}
    assert set(stack_split_errors(torch.zeros(7, 3, 4, 4), torch.zeros(7, 3, 4, 4), torch.zeros(1, 1, 4, 4))) == {
        k for k in EV_COLUMNS if k.endswith("_seen")}


def test_per_ev_table_of_a_response_family(tmp_path, monkeypatch) -> None:
    """``--groups sRGB`` renders the held-out views through sRGB (``views(held_out(size), srgb)``, as
    unseen_responses does) and adds the per-EV table, with the analytic stack and without x^2.2."""
    monkeypatch.setattr("bench.studies.highlights.cvvdp_available", lambda: False)  # PU21 only: fast
    output = tmp_path / "h.md"
    main(["--groups", "sRGB", "--size", "16", "-o", str(output)])
    text = output.read_text()
    assert "**held-out views through sRGB (noise-free; 16 px)**" in text and "Memorial" not in text
    tables = text.split("stack error per EV (8-bit levels)")
    assert len(tables) == 2 and "| method | EV -3 highlights | EV -3 seen |" in tables[1]
    assert "| analytic stack |" in tables[1] and "| x^2.2 |" not in tables[1]
    assert "clipped error (stops)" in tables[0] and "inf" not in text


def test_groups_all_runs_every_family(tmp_path, monkeypatch) -> None:
    """``--groups all``: the held-out views as rendered, through each response family, then the real camera (all
    stood in for by one synthetic 8-px view with a clipped source, rendered through each response)."""
    from bench.studies.scoring import views

    hdr = torch.linspace(0.05, 0.5, 64).view(8, 8, 1).expand(8, 8, 3).clone()
    hdr[:, 6:] = 8.0
    stack = ((hdr * torch.exp2(torch.arange(-3.0, 4.0)).view(7, 1, 1, 1)).clamp(0, 1) ** (1 / 2.2) * 255).round()
    held = SimpleNamespace(stacks=[stack.to(torch.uint8).numpy()], hdrs=[hdr.numpy()])
    monkeypatch.setattr("bench.studies.highlights.held_out", lambda size: held)
    monkeypatch.setattr("bench.studies.highlights.memorial_views", lambda inputs: views(held, None))
    monkeypatch.setattr("bench.studies.highlights.cvvdp_available", lambda: False)
    output = tmp_path / "h.md"
    main(["--groups", "all", "-o", str(output)])
    text = output.read_text()
    titles = ["held-out views (lab, venice, night; 24; 128 px)", "held-out views through sRGB (noise-free; 128 px)",
              "held-out views through sRGB + S-curve", "held-out views through log (phone HDR)",
              "real camera (Memorial Church)"]
    assert all(f"**{title}" in text for title in titles) and text.count("stack error per EV") == 5
    assert "25.0 % of the pixels are highlights" in text
