"""Scores on the held-out views rendered through camera responses that no training view uses.

The 24 held-out views of ``lightning test`` (scenes lab, venice, night; 8 views each, seed 0) are rendered
again, noise-free and without JPEG, through each response below; the EMoR row is the held-out set itself
(its own EMoR responses and noise). Each input is the view's EV 0 image; the true stack is the same
response at EV -3..+3. Models and scores as in ``bench/real_stack.py``: PU21-PSNR and mu-PSNR of the
HDR against the view's radiance, stack PSNR per EV for stack models; x^2.2 and the analytic exposure
stack are the references. None of the curves is tuned to a model: they are textbook consumer
pipelines (sRGB, sRGB with a contrast S-curve, a log-like curve of a phone's HDR JPEG).

    python bench/unseen_responses.py release=hdrsyn/assets/models/hdrsyn-cpu-sample-v1.pt \\
        -o reports/release/unseen_responses.md
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

import numpy as np  # noqa: E402
import torch  # noqa: E402
from tqdm import tqdm  # noqa: E402

from bench.real_stack import load_methods, score, table_rows, write_report  # noqa: E402
from datamodules.sample import SampleDataset  # noqa: E402
from hdrsyn.render import EMoR, render_stack  # noqa: E402


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


def views(response: Callable[[np.ndarray], np.ndarray] | None, size: int) -> list[tuple[torch.Tensor, ...]]:
    """``(ldr, hdr, true_stack)`` of each held-out view; ``response=None``: the held-out set as rendered."""
    data = SampleDataset("val", image_size=size, views_per_scene=8, seed=0)
    curve = None if response is None else response(np.clip(EMoR.load().E, 0.0, 1.0))
    out = []
    for stack, hdr in zip(data.stacks, data.hdrs):
        if curve is not None:
            stack = render_stack(hdr, curve)
        images = torch.from_numpy(stack).permute(0, 3, 1, 2).float() / 255
        out.append((images[3], torch.from_numpy(hdr).permute(2, 0, 1)[None], images))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, or 'packaged'")
    parser.add_argument("--size", type=int, default=128, help="side of the views (the held-out set's is 128)")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    methods = load_methods(args.models)
    rows = ["Held-out views (lab, venice, night; 24) rendered through responses no training view uses "
            f"({args.size} px, noise-free, no JPEG; EMoR: the held-out set as `lightning test` sees it). "
            "Mean over the views.", ""]
    for name, response in {"EMoR (held-out set)": None, **RESPONSES}.items():
        data = views(response, args.size)
        table = {m: [score(m, model, *view) for view in tqdm(data, desc=f"{name}: {m}", leave=False)]
                 for m, model in methods.items()}
        rows += [f"**{name}**", "", *table_rows(table), ""]
    write_report("\n".join(rows), args.output)


if __name__ == "__main__":
    main()
