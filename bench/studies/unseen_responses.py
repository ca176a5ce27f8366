"""Scores on the held-out views rendered through other camera responses, and on a real camera.

The 24 held-out views of ``lightning test`` (scenes lab, venice, night; 8 views each, seed 0) are rendered
again, noise-free and without JPEG, through each response below; the EMoR row is the held-out set itself
(its own EMoR responses and noise). Each input is the view's EV 0 image; the true stack is the same
response at EV -3..+3. Models and scores as in ``bench/real_stack.py``: PU21-PSNR and mu-PSNR of the
HDR against the view's radiance, stack PSNR per EV for stack models; x^2.2 and the analytic exposure
stack are the references. None of the curves is tuned to a model: they are textbook consumer
pipelines (sRGB, sRGB with a contrast S-curve, a log-like curve of a phone's HDR JPEG); whether a
model's training responses include a family (``gamma_responses`` with ``gamma_contrast`` covers the
S-curve one) is for the reader of the table to note. The last group
is the real camera of ``bench/real_stack.py`` (Memorial Church, exposures 6..12 as inputs). ``--chart``
draws the PU21-PSNR of every method and group as grouped bars; ``--csv`` writes every view's scores
(group, view, method, PU21-PSNR, mu-PSNR, JOD), for paired comparisons of two models.

    python bench/unseen_responses.py packaged -o reports/release/unseen_responses.md \\
        --chart reports/release/unseen_responses.png
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench.real_stack import memorial_views, methods_or_exit, score, table_rows, write_report  # noqa: E402
from datamodules.sample import SampleDataset  # noqa: E402
from hdrsyn.plots import plt, save_figure  # noqa: E402
from hdrsyn.render import EMoR, render_stack  # noqa: E402

MEMORIAL = "real camera (Memorial Church)"
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


def held_out(size: int, split: str = "val") -> SampleDataset:
    """The 24 held-out views of ``lightning test`` at ``size`` px (``split="test"``: the 48 test-scene views)."""
    return SampleDataset(split, image_size=size, views_per_scene=8, seed=0)


def views(data: SampleDataset, response: Callable[[np.ndarray], np.ndarray] | None) -> list[tuple[torch.Tensor, ...]]:
    """``(ldr, hdr, true_stack)`` of each view of ``data`` through ``response`` (None: as rendered)."""
    curve = None if response is None else response(np.clip(EMoR.load().E, 0.0, 1.0))
    out = []
    for stack, hdr in zip(data.stacks, data.hdrs):
        if curve is not None:
            stack = render_stack(hdr, curve)
        images = torch.from_numpy(stack).permute(0, 3, 1, 2).float() / 255
        out.append((images[3], torch.from_numpy(hdr).permute(2, 0, 1)[None], images))
    return out


def bar_chart(pu21: dict[str, dict[str, float]], path: Path) -> None:
    """Grouped bars: per group (response), the mean PU21-PSNR of each method."""
    groups, methods = list(pu21), list(next(iter(pu21.values())))
    fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2, 3.6), dpi=100)
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        xs = [g + (k - (len(methods) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [pu21[group][method] for group in groups], width, label=method)
    ax.set_xticks(range(len(groups)), [g.replace(" (", "\n(") for g in groups], fontsize=8)
    low = min(min(v.values()) for v in pu21.values())
    ax.set_ylim(low - 2, None)
    ax.set_ylabel("PU21-PSNR (dB)")
    ax.set_title("Held-out views through other camera responses, and a real camera")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)


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
            "Mean over the views. Last group: the real camera of `bench/real_stack.py` (Memorial Church, "
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
