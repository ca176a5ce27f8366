"""Scores on the held-out views rendered through other camera responses, and on a real camera.

The 24 held-out views of ``lightning test`` (scenes lab, venice, night; 8 views each, seed 0) are rendered
again, noise-free and without JPEG, through each response below; the EMoR row is the held-out set itself
(its own EMoR responses and noise). Each input is the view's EV 0 image; the true stack is the same
response at EV -3..+3. Models and scores as in ``bench/studies/real_stack.py``: PU21-PSNR and mu-PSNR of the
HDR against the view's radiance, stack PSNR per EV for stack models; x^2.2 and the analytic exposure
stack are the references. None of the curves is tuned to a model: they are textbook consumer
pipelines (sRGB, sRGB with a contrast S-curve, a log-like curve of a phone's HDR JPEG); whether a
model's training responses include a family (``gamma_responses`` with ``gamma_contrast`` covers the
S-curve one) is for the reader of the table to note. The last group
is the real camera of ``bench/studies/real_stack.py`` (Memorial Church, exposures 6..12 as inputs). ``--chart``
draws the PU21-PSNR of every method and group as grouped bars; ``--csv`` writes every view's scores
(group, view, method, PU21-PSNR, mu-PSNR, JOD), for paired comparisons of two models.

    python -m bench.studies.unseen_responses packaged -o reports/release/unseen_responses.md \\
        --chart reports/release/unseen_responses.png
"""

from __future__ import annotations

import argparse
import csv
from collections.abc import Callable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from bench.charts import grouped_bars
from bench.studies.scoring import MEMORIAL, held_out, memorial_views, methods_or_exit, score, table_rows, views
from bench.tables import write_report

#: Per ``--scenes``: what the report's first line calls the views, and the name of their EMoR group.
SCENES = {"val": ("Held-out views (lab, venice, night; 24)", "EMoR (held-out set)"),
          "test": ("Test-scene views (6 scenes; 48)", "EMoR (test set)")}


def srgb(x: np.ndarray) -> np.ndarray:
    """The sRGB encoding (IEC 61966-2-1) of linear ``x`` in [0, 1]."""
    return np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)


def srgb_s_curve(x: np.ndarray) -> np.ndarray:
    """sRGB followed by a contrast S-curve (half smoothstep): a camera's 'vivid' JPEG."""
    y = srgb(x)
    return 0.5 * y + 0.5 * y * y * (3 - 2 * y)


def log_curve(x: np.ndarray, a: float = 30.0) -> np.ndarray:
    """``log(1 + a x) / log(1 + a)``: lifted shadows and compressed highlights of a phone's HDR JPEG."""
    return np.log1p(a * x) / np.log1p(a)


RESPONSES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sRGB": srgb, "sRGB + S-curve": srgb_s_curve, "log (phone HDR)": log_curve}


def bar_chart(pu21: dict[str, dict[str, float]], path: Path) -> None:
    """Grouped bars: per group (response), the mean PU21-PSNR of each method."""
    grouped_bars(pu21, path, ylabel="PU21-PSNR (dB)",
                 title="Held-out views through other camera responses, and a real camera")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, label=path+path (their stacks averaged), or 'packaged'")
    parser.add_argument("--size", type=int, default=128, help="side of the views (the held-out set's is 128)")
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--chart", type=Path, help="PNG of the PU21-PSNR bars")
    parser.add_argument("--csv", type=Path, help="CSV of every view's scores (group, view, method, pu21, mu, jod)")
    parser.add_argument("--scenes", choices=list(SCENES), default="val",
                        help="the held-out scenes (val) or the sample's test scenes, nothing chosen on them (test)")
    args = parser.parse_args()
    methods = methods_or_exit(parser, args.models)
    what, emor = SCENES[args.scenes]
    rows = [f"{what} rendered through other camera responses "
            f"({args.size} px, noise-free, no JPEG; EMoR: the views as `lightning test` sees them). "
            "Mean over the views. Last group: the real camera of `bench/studies/real_stack.py` (Memorial Church, "
            "exposures 6..12 as inputs).", ""]
    pu21: dict[str, dict[str, float]] = {}
    per_view: list[dict[str, object]] = []
    held = held_out(args.size, args.scenes)
    for name in [emor, *RESPONSES, MEMORIAL]:
        data = memorial_views(list(range(6, 13))) if name == MEMORIAL else views(held, RESPONSES.get(name))
        table = {m: [score(m, model, *view) for view in tqdm(data, desc=f"{name}: {m}", leave=False)]
                 for m, model in methods.items()}
        pu21[name] = {m: float(np.mean([r["pu21"] for r in results])) for m, results in table.items()}
        per_view += [{"group": name, "view": k, "method": m, "pu21": r["pu21"], "mu": r["mu"], "jod": r.get("jod")}
                     for m, results in table.items() for k, r in enumerate(results)]
        rows += [f"**{name}**", "", *table_rows(table), ""]
    write_report("\n".join(rows), args.output)
    if args.csv:
        with args.csv.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=list(per_view[0]))
            writer.writeheader()
            writer.writerows(per_view)
    if args.chart:
        bar_chart(pu21, args.chart)


if __name__ == "__main__":
    main()
