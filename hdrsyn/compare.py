"""``hdrsyn compare``: one table (markdown + CSV) and a bar chart from the test summaries of several runs."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from hdrsyn.io import atomic_write, output_group
from hdrsyn.plots import save_figure

#: Reported columns, in the paper's order: HDR quality, then stack quality (stop-up / stop-down).
METRICS = ("pu21_psnr", "pu21_ssim", "mu_psnr", "log_psnr", "psnr/up", "psnr/down", "ssim/up", "ssim/down",
           "ms_ssim/up", "ms_ssim/down")


def find_summaries(paths: Sequence[Path]) -> list[Path]:
    """``summary.json`` files given directly or found below the given folders."""
    found = []
    for path in paths:
        found.extend(sorted(path.rglob("summary.json")) if path.is_dir() else [path])
    missing = [str(p) for p in found if not p.is_file()]
    if missing or not found:
        raise FileNotFoundError(f"no test summary at {', '.join(missing) or ', '.join(map(str, paths))}; "
                                "run `lightning test` first (it writes <output_dir>/summary.json)")
    return found


def load_rows(summaries: Sequence[Path]) -> list[dict]:
    """One row per run: its label (the run folder), method, image count and metrics."""
    rows = []
    for path in summaries:
        try:
            record = json.loads(path.read_text())
            rows.append({"run": record.get("run") or path.parent.parent.name, "method": str(record["method"]),
                         "num_images": int(record["num_images"]), "metrics": dict(record["metrics"])})
        except (AttributeError, KeyError, TypeError, ValueError) as error:  # JSON and Unicode errors are ValueErrors
            reason = f"{type(error).__name__}: {error}"
            raise ValueError(f"{path} is not a test summary of `lightning test` ({reason})") from None
    return rows


def cell(metrics: dict, key: str) -> str:
    """``mean ± std`` with precision by scale, or an em dash for a metric the method does not have."""
    if key not in metrics:
        return "—"
    digits = 3 if "ssim" in key else 2
    return f"{metrics[key]:.{digits}f} ± {metrics.get(key + '_std', 0.0):.{digits}f}"


def markdown_table(rows: Sequence[dict]) -> str:
    header = ["run", "method", "images", *METRICS]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        values = [row["run"], row["method"], str(row["num_images"]), *(cell(row["metrics"], k) for k in METRICS)]
        lines.append("| " + " | ".join(values) + " |")
    return "\n".join(lines) + "\n"


def csv_table(rows: Sequence[dict]) -> str:
    text = io.StringIO()
    writer = csv.writer(text)
    writer.writerow(["run", "method", "num_images", *(f"{k}{s}" for k in METRICS for s in ("", "_std"))])
    for row in rows:
        metrics = row["metrics"]
        writer.writerow([row["run"], row["method"], row["num_images"],
                         *(metrics.get(f"{k}{s}", "") for k in METRICS for s in ("", "_std"))])
    return text.getvalue()


def bar_chart(rows: Sequence[dict], path: Path, keys: Sequence[str] = ("pu21_psnr", "mu_psnr", "psnr/up")) -> None:
    """Grouped bars (mean with std whiskers) of ``keys`` per run."""
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.5), dpi=100)
    for ax, key in zip(axes, keys):
        have = [r for r in rows if key in r["metrics"]]
        ax.bar(range(len(have)), [r["metrics"][key] for r in have],
               yerr=[r["metrics"].get(key + "_std", 0.0) for r in have], color="tab:blue", capsize=3)
        ax.set_xticks(range(len(have)), [r["run"] for r in have], rotation=40, ha="right", fontsize=8)
        ax.set_title(key)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn compare RUN_OR_SUMMARY... -o OUT``: writes OUT/comparison.{md,csv,png}."""
    parser = argparse.ArgumentParser(prog="hdrsyn compare", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="summary.json files or folders holding them")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for comparison.{md,csv,png}")
    args = parser.parse_args(argv)
    try:
        rows = load_rows(find_summaries(args.paths))
    except (FileNotFoundError, ValueError) as error:
        print(f"hdrsyn compare: error: {error}", file=sys.stderr)
        return 2
    table = markdown_table(rows)
    paths = [args.output / f"comparison.{suffix}" for suffix in ("md", "csv", "png")]
    with output_group(paths, overwrite=True) as staged:  # all three replace an earlier comparison together
        atomic_write(staged[paths[0]], lambda tmp: tmp.write_text(table))
        atomic_write(staged[paths[1]], lambda tmp: tmp.write_text(csv_table(rows)))
        bar_chart(rows, staged[paths[2]])
    print(table)
    return 0
