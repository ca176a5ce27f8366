"""Where a method's HDR errors are: inside the input's clipped highlights, or in the pixels it did see.

A single-image method must invent the radiance of the pixels the input clips; elsewhere it only has to
undo the camera's response. This bench scores the two parts apart. For each input, the highlight mask
``M`` holds the pixels whose brightest channel is at least ``--threshold`` (0.95) of full scale. The
method's HDR is brought to the reference's scale (median luminance, as the metrics do), then scored:

- **full**: as it is (PU21-PSNR, ColorVideoVDP JOD; the ``lightning test`` protocol);
- **highlights**: the reference pasted outside ``M``, so only the invented highlights differ;
- **seen pixels**: the reference pasted inside ``M``, so only the response inversion differs;
- **bias** / **spread**: mean and standard deviation, in stops, of ``log2(method / reference)`` luminance
  inside ``M`` (negative: highlights too dim).

Groups: the 24 held-out views of ``lightning test`` and the real camera of ``bench/studies/real_stack.py``
(Memorial Church, exposures 6..12 as inputs). Methods: x^2.2, the analytic exposure stack, and each
``label=path`` model (``packaged``: the default packaged model; a joint-stage or baseline checkpoint).
JOD needs the optional ``cvvdp`` package (``pip install -e ".[eval]"``); without it those columns are "—".

    python -m bench.studies.highlights packaged hdrcnn=runs/release-baselines/hdrcnn/checkpoints/last.ckpt \\
        -o reports/release/highlights.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench.studies.scoring import MEMORIAL, held_out, memorial_views, methods_or_exit, reconstruct, views
from bench.tables import means_table, write_report
from hdrsyn.metrics import pu21_psnr
from hdrsyn.metrics.colorvideovdp import color_video_vdp, cvvdp_available
from hdrsyn.metrics.normalization import align_scale
from ops.tonemap import luminance

COLUMNS = {"pu21": "PU21 full", "pu21_hl": "PU21 highlights", "pu21_seen": "PU21 seen pixels",
           "jod": "JOD full", "jod_hl": "JOD highlights", "jod_seen": "JOD seen pixels",
           "bias": "bias (stops)", "spread": "spread (stops)"}


def highlight_mask(ldr: torch.Tensor, threshold: float = 0.95) -> torch.Tensor:
    """``(1, 1, H, W)`` float mask of the pixels of ``ldr`` ``(3, H, W)`` whose brightest channel is >= ``threshold``.

    Example:
        >>> ldr = torch.tensor([0.2, 0.96]).view(1, 1, 2).expand(3, 1, 2)
        >>> highlight_mask(ldr).flatten().tolist()
        [0.0, 1.0]
    """
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold}")
    return (ldr.amax(0) >= threshold).to(ldr.dtype)[None, None]


def split_scores(radiance: torch.Tensor, hdr: torch.Tensor, mask: torch.Tensor, jod: bool = True) -> dict:
    """Scores of ``radiance`` against ``hdr`` (both ``(1, 3, H, W)``) in full, inside and outside ``mask``.

    Example:
        >>> hdr = torch.rand(1, 3, 16, 16) + 0.1
        >>> mask = torch.zeros(1, 1, 16, 16); mask[..., :4] = 1
        >>> out = split_scores(hdr * 2 * (1 + mask), hdr, mask, jod=False)  # scale-free; highlights 1 stop bright
        >>> round(out["bias"], 3), round(out["spread"], 3), out["pu21_seen"] > 100
        (1.0, 0.0, True)
    """
    aligned = radiance * align_scale(radiance, hdr)
    inside, outside = hdr * (1 - mask) + aligned * mask, hdr * mask + aligned * (1 - mask)
    out = {"pu21": aligned, "pu21_hl": inside, "pu21_seen": outside}
    out = {key: float(pu21_psnr(image, hdr)) for key, image in out.items()}
    if jod:
        out.update(jod=float(color_video_vdp(aligned, hdr)), jod_hl=float(color_video_vdp(inside, hdr)),
                   jod_seen=float(color_video_vdp(outside, hdr)))
    selected = mask[0, 0] > 0
    if bool(selected.any()):
        ratio = (luminance(aligned)[0, 0][selected].clamp_min(1e-9) / luminance(hdr)[0, 0][selected].clamp_min(1e-9))
        stops = ratio.log2()
        out.update(bias=float(stops.mean()), spread=float(stops.std()) if stops.numel() > 1 else 0.0)
    return out


def table(results: dict[str, list[dict]]) -> list[str]:
    """Markdown rows (header first): each method's mean of every column present."""
    keys = [k for k in COLUMNS if any(k in r for rows in results.values() for r in rows)]
    return means_table(results, COLUMNS, keys)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, or 'packaged'")
    parser.add_argument("--threshold", type=float, default=0.95, help="highlight: brightest channel >= this")
    parser.add_argument("--size", type=int, default=128, help="side of the held-out views")
    parser.add_argument("--groups", nargs="+", choices=["held-out", "memorial"], default=["held-out", "memorial"])
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if not 0 < args.threshold <= 1:
        parser.error(f"--threshold must be in (0, 1], got {args.threshold}")
    methods = methods_or_exit(parser, args.models)
    jod = cvvdp_available()
    lines = [f"Scores inside and outside the input's highlights (brightest channel >= {args.threshold}); "
             "`highlights`: the reference pasted outside them, `seen pixels`: pasted inside them "
             "(`bench/studies/highlights.py`). Mean over the inputs."
             + ("" if jod else " JOD: cvvdp not installed."), ""]
    for group in args.groups:
        data = views(held_out(args.size), None) if group == "held-out" else memorial_views(list(range(6, 13)))
        masks = [highlight_mask(ldr, args.threshold) for ldr, _, _ in data]
        results = {method: [split_scores(reconstruct(method, model, ldr)[0], hdr, mask, jod)
                            for (ldr, hdr, _), mask in tqdm(list(zip(data, masks)), desc=f"{group}: {method}",
                                                            leave=False)]
                   for method, model in methods.items()}
        fraction = np.mean([float(mask.mean()) for mask in masks])
        title = "held-out views (lab, venice, night; 24)" if group == "held-out" else MEMORIAL
        lines += [f"**{title}**: {100 * fraction:.1f} % of the pixels are highlights", "", *table(results), ""]
    write_report("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
