"""Several runs' test summaries side by side: one table (markdown + CSV) and a bar chart (the library of
``hdrsyn compare``, :mod:`hdrsyn.cli.compare`).

:func:`write_comparison` writes the files, :func:`log_to_wandb` logs them, with the runs' per-image scores
joined into one long table, as a W&B run.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path

import matplotlib.pyplot as plt

from hdrsyn.io import atomic_write, output_group
from hdrsyn.plots import save_figure
from hdrsyn.viewer import write_comparison_page

#: Reported columns: HDR quality (JOD first, the closest to the paper's HDR-VDP-2), the same after the
#: per-image CRF correction (``crf/``), then stack quality (stop-up / stop-down, paper Table 2).
HDR_METRICS = ("cvvdp", "pu21_psnr", "pu21_ssim", "mu_psnr", "log_psnr")
METRICS = (*HDR_METRICS, *(f"crf/{key}" for key in HDR_METRICS), "psnr/up", "psnr/down", "ssim/up", "ssim/down",
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
    """One row per run: its label (the run folder; where held-out and test-scene passes are compared together,
    as `hdrsyn pipeline` writes both into its joint run, ``(test scenes)`` marks the latter), method, image
    count and metrics."""
    rows = []
    for path in summaries:
        try:
            record = json.loads(path.read_text())
            rows.append({"run": record.get("run") or path.parent.parent.name, "method": str(record["method"]),
                         "test_split": record.get("test_split") or "val",
                         "num_images": int(record["num_images"]), "metrics": dict(record["metrics"]),
                         "wandb": record.get("wandb") or {}, "folder": path.parent})
        except (AttributeError, KeyError, TypeError, ValueError) as error:  # JSON and Unicode errors are ValueErrors
            reason = f"{type(error).__name__}: {error}"
            raise ValueError(f"{path} is not a test summary of `lightning test` ({reason})") from None
        check_metrics(path, rows[-1]["metrics"])
    if len({row["test_split"] for row in rows}) > 1:  # held-out and test scenes side by side: say which is which
        for row in rows:
            if row["test_split"] == "test":
                row["run"] = f"{row['run']} (test scenes)"
    return rows


def check_metrics(path: Path, metrics: dict) -> None:
    """Raise ``ValueError`` naming ``path`` and the first metric that is not a finite number (NaN, Inf, text)."""
    for key, value in metrics.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ValueError(f"{path}: metric {key!r} is {value!r}, not a finite number; re-run `lightning test` "
                             "for this run, or leave it out")


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


def bar_chart(rows: Sequence[dict], path: Path,
              keys: Sequence[str] = ("cvvdp", "crf/cvvdp", "pu21_psnr", "psnr/up")) -> None:
    """Grouped bars (mean with std whiskers) of ``keys`` per run."""
    keys = [key for key in keys if any(key in r["metrics"] for r in rows)]
    fig, axes = plt.subplots(1, len(keys), figsize=(4 * len(keys), 3.5), dpi=100, squeeze=False)
    for ax, key in zip(axes[0], keys):
        have = [r for r in rows if key in r["metrics"]]
        ax.bar(range(len(have)), [r["metrics"][key] for r in have],
               yerr=[r["metrics"].get(key + "_std", 0.0) for r in have], color="tab:blue", capsize=3)
        ax.set_xticks(range(len(have)), [r["run"] for r in have], rotation=40, ha="right", fontsize=8)
        ax.set_title(key)
        ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    save_figure(fig, path)


def write_comparison(rows: Sequence[dict], output: Path) -> str:
    """Write ``output``/comparison.{md,csv,png,html} (html: the methods' HDR side by side per scene) of ``rows``
    (:func:`load_rows`), all four replacing an earlier comparison together; returns the markdown table."""
    table = markdown_table(rows)
    paths = [output / f"comparison.{suffix}" for suffix in ("md", "csv", "png", "html")]
    with output_group(paths, overwrite=True) as staged:
        atomic_write(staged[paths[0]], lambda tmp: tmp.write_text(table))
        atomic_write(staged[paths[1]], lambda tmp: tmp.write_text(csv_table(rows)))
        bar_chart(rows, staged[paths[2]])
        write_comparison_page(staged[paths[3]], rows, METRICS, HDR_METRICS)
    return table


def per_image_rows(rows: Sequence[dict]) -> tuple[list[str], list[list]]:
    """The runs' ``metrics_per_image.csv`` joined into one long table: ``run``, then each file's columns
    (``method``, ``name``, scores; a score a method lacks is None)."""
    tables = []
    for row in rows:
        path = row["folder"] / "metrics_per_image.csv"
        if path.is_file():
            tables.append((row["run"], list(csv.DictReader(path.open()))))
    columns = list(dict.fromkeys(key for _, records in tables for record in records for key in record))
    data = [[run, *(_number(record.get(key)) for key in columns)] for run, records in tables for record in records]
    return ["run", *columns], data


def _number(value: str | None) -> str | float | None:
    if value is None or value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value


def log_to_wandb(rows: Sequence[dict], output: Path, project: str | None, group: str | None) -> str:
    """Log the table, chart and joined per-image table as a W&B run of ``project`` / ``group`` (default:
    the summaries' own, when they agree; else ``hdrsyn`` / none). Returns the run's folder."""
    import wandb

    def shared(key: str) -> str | None:
        values = {row["wandb"].get(key) for row in rows if row["wandb"].get(key)}
        return values.pop() if len(values) == 1 else None

    os.environ.setdefault("WANDB_MODE", "offline")
    run = wandb.init(project=project or shared("project") or "hdrsyn", group=group or shared("group"),
                     job_type="compare", name="compare", dir=str(output),
                     config={"runs": [row["run"] for row in rows]})
    header = ["run", "method", "num_images", *(f"{k}{s}" for k in METRICS for s in ("", "_std"))]
    table = [[row["run"], row["method"], row["num_images"],
              *(row["metrics"].get(f"{k}{s}") for k in METRICS for s in ("", "_std"))] for row in rows]
    columns, per_image = per_image_rows(rows)
    run.log({"compare/table": wandb.Table(columns=header, data=table),
             "compare/chart": wandb.Image(str(output / "comparison.png")),
             "compare/per_image": wandb.Table(columns=columns, data=per_image)})
    folder = run.dir
    run.finish()
    wandb.teardown()  # waits until the run is written: the tool's work ends here
    return str(Path(folder).parent)

