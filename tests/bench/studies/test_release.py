"""``python -m bench.studies.release``: the release judge's rule, and its table reproduced from saved scores."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench.studies.release import (EMOR_FAMILY, HIGHLIGHTS, MEMORIAL_FAMILY, curve_views, judge, main, metering,
                                   paired, read_scores, report, write_scores)
from bench.studies.scoring import views
from bench.studies.unseen_responses import srgb

FAMILIES = (EMOR_FAMILY, "sRGB", MEMORIAL_FAMILY)


def scores(offsets: dict[str, dict[str, float]], n: int = 6) -> list[dict]:
    """Per-view records: every method's score is a shared per-view base plus its offset per family (per
    view alternating ±0.1 around it, so paired differences have a spread)."""
    rows = []
    for family in FAMILIES:
        for view in range(n):
            base = 20.0 + view
            for method, offset in offsets.items():
                jitter = 0.1 * (-1) ** view if method != "packaged" else 0.0
                shift = offset.get(family, 0.0) + jitter
                rows.append({"family": family, "view": view, "method": method, "pu21": base + shift,
                             "jod": 7.0 + shift / 10, "clipped": 1.0 - offset.get(HIGHLIGHTS, 0.0) + jitter / 10})
    return rows


def test_a_candidate_better_everywhere_ships() -> None:
    rows = scores({"packaged": {}, "better": {EMOR_FAMILY: 1.0, "sRGB": 0.5, HIGHLIGHTS: 0.3}})
    verdict = judge(rows, "better", "packaged")
    assert verdict.ships
    assert verdict.means["pu21"] == pytest.approx((22.5 + 0.75, 22.5))  # mean over EMoR and sRGB; Memorial not judged
    assert verdict.differences[(EMOR_FAMILY, "pu21")].mean == pytest.approx(1.0)
    assert verdict.differences[(HIGHLIGHTS, "clipped")].mean == pytest.approx(0.3)  # lower error counts as better


def test_one_family_lost_by_more_than_one_se_blocks_the_release() -> None:
    rows = scores({"packaged": {}, "mixed": {EMOR_FAMILY: 2.0, "sRGB": -0.5}})
    verdict = judge(rows, "mixed", "packaged")
    assert verdict.means["pu21"][0] > verdict.means["pu21"][1]  # better on the mean...
    assert verdict.differences[("sRGB", "pu21")].loses and not verdict.ships  # ...but behind on sRGB
    memorial = scores({"packaged": {}, "film": {EMOR_FAMILY: 1.0, "sRGB": 1.0, MEMORIAL_FAMILY: -5.0}})
    assert judge(memorial, "film", "packaged").ships  # Memorial is reported, not judged
    worse_highlights = scores({"packaged": {}, "dim": {EMOR_FAMILY: 1.0, "sRGB": 1.0, HIGHLIGHTS: -0.5}})
    assert not judge(worse_highlights, "dim", "packaged").ships
    with pytest.raises(ValueError, match="no scores of 'nope'"):
        judge(rows, "nope", "packaged")


def test_paired_difference_and_its_standard_error() -> None:
    out = paired({0: 21.0, 1: 23.0, 2: 22.0, 3: 9.0}, {0: 20.0, 1: 22.5, 2: 22.5}, True)  # view 3: unpaired
    diff = np.array([1.0, 0.5, -0.5])
    assert (out.mean, out.n) == (pytest.approx(diff.mean()), 3)
    assert out.se == pytest.approx(diff.std(ddof=1) / np.sqrt(3))
    assert paired({0: 1.0, 1: 2.0}, {0: 2.0, 1: 3.0}, False).mean == pytest.approx(1.0)
    assert paired({0: 1.0}, {0: 2.0}, True) is None


def test_the_table_is_reproduced_from_saved_per_image_scores(tmp_path, capsys) -> None:
    rows = scores({"packaged": {}, "x^2.2": {EMOR_FAMILY: -3.0}, "candidate": {EMOR_FAMILY: 0.4, "sRGB": 0.2}})
    rows[0]["jod"] = None  # a missing score stays missing
    write_scores(rows, tmp_path / "scores.csv")
    assert read_scores(tmp_path / "scores.csv") == rows
    expected = report(rows, "packaged")
    main(["--from-csv", str(tmp_path / "scores.csv"), "--reference", "packaged", "-o", str(tmp_path / "table.md"),
          "--chart", str(tmp_path / "chart.png")])
    assert (tmp_path / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (tmp_path / "table.md").read_text() == expected
    assert "| **ships** |  | **yes** |" in expected and "| EMoR | PU21-PSNR | 22.50 | 19.50 | 22.90 |" in expected
    assert "x^2.2 |" not in expected.split("Paired against")[1].split("\n")[4]  # references are not judged
    more = scores({"packaged": {}, "later": {EMOR_FAMILY: 1.0}})  # a second run: its packaged rows are dropped
    write_scores([r for r in more if r["method"] != "x^2.2"], tmp_path / "more.csv")
    main(["--from-csv", str(tmp_path / "scores.csv"), str(tmp_path / "more.csv"), "-o", str(tmp_path / "both.md")])
    assert (tmp_path / "both.md").read_text() == report(rows + [r for r in more if r["method"] == "later"], "packaged")
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["--from-csv", str(tmp_path / "scores.csv"), "--reference", "v9"])
    assert "'v9' is not among the scored methods" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--from-csv", str(tmp_path / "missing.csv")])
    assert "no such file" in capsys.readouterr().err


def test_maker_curves_are_metered_like_a_camera() -> None:
    assert metering(srgb) == pytest.approx(1.0, abs=1e-4)
    assert metering(np.sqrt) == pytest.approx(float(srgb(np.float64(0.18))) ** 2 / 0.18, rel=1e-3)
    gen = np.random.default_rng(0)
    hdrs = gen.uniform(0.01, 3.0, (2, 8, 8, 3)).astype(np.float32)
    data = SimpleNamespace(hdrs=hdrs, stacks=np.zeros((2, 7, 8, 8, 3), np.uint8))
    through_srgb = curve_views(data, [srgb])  # metering 1: the views of unseen_responses
    for (ldr, hdr, stack), (ldr2, hdr2, stack2) in zip(through_srgb, views(data, srgb)):
        assert torch.equal(ldr, ldr2) and torch.equal(hdr, hdr2) and torch.equal(stack, stack2)
    grey = SimpleNamespace(hdrs=np.full((2, 4, 4, 3), 0.18, np.float32))  # an 18 % grey card, any camera
    level = round(255 * float(srgb(np.float64(0.18)))) / 255
    for curves in ([np.sqrt], [lambda x: x ** 0.25, lambda x: x ** 0.6]):
        for ldr, _, _ in curve_views(grey, curves):
            assert float(ldr.mean()) == pytest.approx(level, abs=1.5 / 255)


def test_the_test_scenes_give_48_views_per_family() -> None:
    from bench.studies.release import family_views

    views_ = family_views("darktable basecurves", 16, "test")
    assert len(views_) == 48 and views_[0][0].shape == (3, 16, 16) and views_[0][2].shape == (7, 3, 16, 16)
    assert len(family_views(EMOR_FAMILY, 16)) == 24
