"""Mean ± standard deviation over seeds: one row per run name, from the test summaries of several seeds.

``lightning test`` writes one ``summary.json`` per run; a run trained with several seeds leaves one per
seed folder. This groups the summaries found below the given folders by run name and reports, for each
metric, the mean over seeds of the per-run means and their standard deviation across seeds (n − 1), so
that a difference between runs can be read against the seed-to-seed spread. Writes a markdown table and,
with ``--chart``, a bar chart with the spread as error bars.

    python -m bench.studies.seed_table runs/ablation-seeds/seed* -o reports/sample/ablation/seeds.md \\
        --chart reports/sample/ablation/seeds.png
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from bench.charts import spread_bars
from bench.tables import markdown_table, write_report
from hdrsyn.comparison import find_summaries, load_rows

#: Columns of the table: summary key and header.
COLUMNS = {"cvvdp": "JOD", "pu21_psnr": "PU21-PSNR", "mu_psnr": "μ-PSNR", "crf/cvvdp": "JOD, CRF-corr.",
           "psnr/up": "stack PSNR up", "psnr/down": "stack PSNR down"}


def group_by_run(folders: Sequence[Path]) -> dict[str, list[dict]]:
    """The metrics of every test summary below ``folders``, grouped by run name (first-seen order).

    Example:
        >>> import json, tempfile
        >>> root = Path(tempfile.mkdtemp())
        >>> for seed, jod in enumerate((6.8, 7.0)):
        ...     (root / f"s{seed}/a/test").mkdir(parents=True)
        ...     summary = {"run": "a", "method": "JointStage", "num_images": 24, "metrics": {"cvvdp": jod}}
        ...     _ = (root / f"s{seed}/a/test/summary.json").write_text(json.dumps(summary))
        >>> [m["cvvdp"] for m in group_by_run([root / "s0", root / "s1"])["a"]]
        [6.8, 7.0]
    """
    groups: dict[str, list[dict]] = defaultdict(list)
    for row in load_rows(find_summaries(list(folders))):
        groups[row["run"]].append(row["metrics"])
    return dict(groups)


def seed_stats(runs: Sequence[dict], key: str) -> tuple[float, float, int] | None:
    """``(mean, std, n)`` of metric ``key`` over the seeds that have it (std 0 for one seed); None if none.

    Example:
        >>> seed_stats([{"cvvdp": 6.8}, {"cvvdp": 7.0}, {}], "cvvdp")
        (6.9, 0.141, 2)
    """
    values = np.array([run[key] for run in runs if key in run], dtype=float)
    if values.size == 0:
        return None
    std = float(values.std(ddof=1)) if values.size > 1 else 0.0
    return round(float(values.mean()), 3), round(std, 3), int(values.size)


def markdown(groups: dict[str, list[dict]]) -> str:
    """One row per run: seeds, then ``mean ± std`` over seeds of each column (— where missing)."""
    rows = []
    for name, runs in groups.items():
        cells = []
        for key in COLUMNS:
            stats = seed_stats(runs, key)
            digits = 3 if key.endswith("ssim") else 2
            cells.append("—" if stats is None else f"{stats[0]:.{digits}f} ± {stats[1]:.{digits}f}")
        rows.append([name, len(runs), *cells])
    return "\n".join(markdown_table(["run", "seeds", *COLUMNS.values()], rows)) + "\n"


def chart(groups: dict[str, list[dict]], path: Path, keys: Sequence[str] = ("cvvdp", "pu21_psnr")) -> None:
    """Bar chart of ``keys`` per run, the seed spread as error bars."""
    panels = {}
    for key in keys:
        stats = {name: seed_stats(runs, key) for name, runs in groups.items()}
        panels[f"{COLUMNS.get(key, key)} (mean ± std over seeds)"] = {
            name: (s[0], s[1]) for name, s in stats.items() if s is not None}
    spread_bars(panels, path)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path, help="one folder per seed (searched for summary.json)")
    parser.add_argument("-o", "--output", type=Path, help="markdown file for the table")
    parser.add_argument("--chart", type=Path, help="PNG bar chart with the seed spread as error bars")
    args = parser.parse_args(argv)
    groups = group_by_run(args.folders)
    write_report(markdown(groups), args.output)
    if args.chart is not None:
        chart(groups, args.chart)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
