"""``python -m bench.studies.seed_table``: runs grouped by name across seed folders, mean ± std over seeds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.studies.seed_table import group_by_run, main, seed_stats


@pytest.fixture
def seeds(tmp_path: Path) -> list[Path]:
    """Three seed folders of two runs (``a``: JOD 6.6 / 6.8 / 7.0; ``b`` missing in seed 2)."""
    folders = []
    for seed, (jod_a, jod_b) in enumerate([(6.6, 7.1), (6.8, 7.3), (7.0, None)]):
        folder = tmp_path / f"seed{seed}"
        for run, jod in (("a", jod_a), ("b", jod_b)):
            if jod is not None:
                (folder / run / "test").mkdir(parents=True)
                summary = {"run": run, "method": "JointStage", "num_images": 24,
                           "metrics": {"cvvdp": jod, "pu21_psnr": 20.0 + seed}}
                (folder / run / "test" / "summary.json").write_text(json.dumps(summary))
        folders.append(folder)
    return folders


def test_runs_are_grouped_by_name_across_seeds(seeds: list[Path]) -> None:
    groups = group_by_run(seeds)
    assert sorted(groups) == ["a", "b"]
    assert [m["cvvdp"] for m in groups["a"]] == [6.6, 6.8, 7.0] and len(groups["b"]) == 2


def test_mean_and_sample_std_over_seeds(seeds: list[Path]) -> None:
    groups = group_by_run(seeds)
    assert seed_stats(groups["a"], "cvvdp") == (6.8, 0.2, 3)  # std with n - 1
    assert seed_stats(groups["b"], "pu21_psnr") == (20.5, 0.707, 2)
    assert seed_stats(groups["a"], "mu_psnr") is None
    assert seed_stats([{"cvvdp": 7.0}], "cvvdp") == (7.0, 0.0, 1)


def test_main_writes_the_table_and_the_chart(seeds: list[Path], tmp_path: Path) -> None:
    out, png = tmp_path / "out" / "seeds.md", tmp_path / "out" / "seeds.png"
    assert main([*map(str, seeds), "-o", str(out), "--chart", str(png)]) == 0
    rows = out.read_text().splitlines()
    assert rows[2].startswith("| a | 3 | 6.80 ± 0.20 | 21.00 ± 1.00 | — |")
    assert rows[3].startswith("| b | 2 | 7.20 ± 0.14 |")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_file_that_is_not_a_summary_is_named(tmp_path: Path) -> None:
    (tmp_path / "x" / "test").mkdir(parents=True)
    (tmp_path / "x" / "test" / "summary.json").write_text("{}")
    with pytest.raises(ValueError, match="summary.json is not a test summary"):
        group_by_run([tmp_path])
