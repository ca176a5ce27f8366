"""Where a method's HDR errors are: inside the input's clipped highlights, or in the pixels it did see.

A single-image method must invent the radiance of the pixels the input clips; elsewhere it only has to
undo the camera's response. This bench scores the two parts apart. For each input, the highlight mask
``M`` holds the pixels whose brightest channel is at least ``--threshold`` (0.95) of full scale. The
method's HDR is brought to the reference's scale (median luminance, as the metrics do), then scored:

- **full**: as it is (PU21-PSNR, ColorVideoVDP JOD; the ``lightning test`` protocol);
- **highlights**: the reference pasted outside ``M``, so only the invented highlights differ;
- **seen pixels**: the reference pasted inside ``M``, so only the response inversion differs;
- **bias** / **spread**: mean and standard deviation, in stops, of ``log2(method / reference)`` luminance
  inside ``M`` (negative: highlights too dim);
- **clipped error**: mean of ``|log2(method / reference)|`` luminance inside ``M``, in stops (lower is
  better; 0 for the reference): one number for the invented highlights.

An input without highlights counts only in the full and seen-pixel columns (its highlight scores would be
perfect by construction), one that is all highlights only in the full and highlight ones.

A second table per group, for the methods that make a stack (the analytic stack and stack models, not
x^2.2), holds the mean absolute error in 8-bit levels (0..255) of each generated exposure (EV -3..+3 but
the input) against the true stack, inside ``M`` (**highlights**) and outside it (**seen**): a clipped
pixel's shorter exposures are where the method must invent content, and the columns show which EVs lose
it (an input without highlights counts only in the seen columns).

Groups (``--groups``, default ``held-out memorial``; ``all``: every one): ``held-out``, the 24 held-out
views of ``lightning test`` (their EMoR responses and noise); each response family of
``bench/studies/unseen_responses.py`` (``sRGB``, ``sRGB + S-curve``, ``log (phone HDR)``: the same views
rendered again, noise-free, through that curve, the true stack through the same curve; quote the names in
the shell); ``memorial``, the real camera of ``bench/studies/real_stack.py`` (Memorial Church, exposures
6..12 as inputs). Methods: x^2.2, the analytic exposure stack, and each ``label=path`` model (``packaged``:
the default packaged model; a joint-stage or baseline checkpoint). JOD needs the optional ``cvvdp`` package
(``pip install -e ".[eval]"``); without it those columns are "—".

    python -m bench.studies.highlights packaged hdrcnn=runs/release-baselines/hdrcnn/checkpoints/last.ckpt \\
        -o reports/release/highlights.md
    python -m bench.studies.highlights packaged --groups all -o reports/release/highlights_responses.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench.studies.scoring import EVS, MEMORIAL, held_out, memorial_views, methods_or_exit, reconstruct, views
from bench.studies.unseen_responses import RESPONSES
from bench.tables import means_table, write_report
from hdrsyn.metrics import pu21_psnr
from hdrsyn.metrics.colorvideovdp import color_video_vdp, cvvdp_available
from hdrsyn.metrics.normalization import align_scale
from hdrsyn.model_registry import Reconstructor
from ops.tonemap import luminance

COLUMNS = {"pu21": "PU21 full", "pu21_hl": "PU21 highlights", "pu21_seen": "PU21 seen pixels",
           "jod": "JOD full", "jod_hl": "JOD highlights", "jod_seen": "JOD seen pixels",
           "bias": "bias (stops)", "spread": "spread (stops)", "clipped_error": "clipped error (stops)"}
#: The second table's columns: mean absolute error (8-bit levels) per generated EV inside / outside the mask.
EV_COLUMNS = {f"ev{ev:+d}_{part}": f"EV {ev:+d} {name}" for ev in EVS
              for part, name in (("hl", "highlights"), ("seen", "seen"))}
#: ``--groups``: the held-out views (EMoR), the same views through each response family, the real camera.
GROUPS = ["held-out", *RESPONSES, "memorial"]


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
    """Scores of ``radiance`` against ``hdr`` (both ``(1, 3, H, W)``) in full, inside and outside ``mask``;
    the inside scores (``*_hl``, ``bias``, ``spread``, ``clipped_error``) only where ``mask`` holds a pixel, the
    outside ones (``*_seen``) only where it leaves one.

    Example:
        >>> hdr = torch.rand(1, 3, 16, 16) + 0.1
        >>> mask = torch.zeros(1, 1, 16, 16); mask[..., :4] = 1
        >>> out = split_scores(hdr * 2 * (1 + mask), hdr, mask, jod=False)  # scale-free; highlights 1 stop bright
        >>> round(out["bias"], 3), round(out["spread"], 3), round(out["clipped_error"], 3), out["pu21_seen"] > 100
        (1.0, 0.0, 1.0, True)
    """
    aligned = radiance * align_scale(radiance, hdr)
    selected = mask[0, 0] > 0
    images = {"": aligned}  # a side without pixels would score inf: left out, as bias and spread are
    if bool(selected.any()):
        images["_hl"] = hdr * (1 - mask) + aligned * mask
    if not bool(selected.all()):
        images["_seen"] = hdr * mask + aligned * (1 - mask)
    out = {f"pu21{key}": float(pu21_psnr(image, hdr)) for key, image in images.items()}
    if jod:
        out.update({f"jod{key}": float(color_video_vdp(image, hdr)) for key, image in images.items()})
    if bool(selected.any()):
        out.update(highlight_stops(aligned, hdr, mask))
    return out


def highlight_stops(radiance: torch.Tensor, hdr: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """``bias``, ``spread`` and ``clipped_error`` (mean, std and mean absolute value) of the luminance error
    in stops, ``log2(radiance / hdr)``, over the pixels of ``mask`` (one at least); ``radiance`` brought to
    ``hdr``'s scale first (as the metrics do).

    Example:
        >>> hdr = torch.rand(1, 3, 8, 8) + 0.1
        >>> mask = torch.zeros(1, 1, 8, 8); mask[..., :2] = 1
        >>> round(highlight_stops(hdr * 3 / (1 + mask), hdr, mask)["clipped_error"], 3)  # one stop too dim there
        1.0
    """
    selected = mask[0, 0] > 0
    if not bool(selected.any()):
        raise ValueError("highlight_stops needs a mask with at least one pixel")
    aligned = radiance * align_scale(radiance, hdr)
    ratio = luminance(aligned)[0, 0][selected].clamp_min(1e-9) / luminance(hdr)[0, 0][selected].clamp_min(1e-9)
    stops = ratio.log2()
    return {"bias": float(stops.mean()), "spread": float(stops.std()) if stops.numel() > 1 else 0.0,
            "clipped_error": float(stops.abs().mean())}


def stack_split_errors(stack: torch.Tensor, true_stack: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Mean absolute error, in 8-bit levels (0..255), of each generated exposure of ``stack`` against
    ``true_stack`` (both ``(7, 3, H, W)`` in [0, 1], EV -3..+3; index 3, the input, is left out; ``stack``
    clamped to [0, 1] as :func:`hdrsyn.metrics.stack_psnr` does), inside ``mask`` ``(1, 1, H, W)``
    (``ev-3_hl``, ...) and outside it (``ev-3_seen``, ...); a side without pixels has no keys.

    Example:
        >>> true = torch.zeros(7, 3, 2, 2)
        >>> mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)
        >>> out = stack_split_errors(true + mask * 4 / 255, true, mask)  # the masked pixel 4 levels off
        >>> round(out["ev-3_hl"], 3), out["ev-3_seen"], len(out)
        (4.0, 0.0, 12)
        >>> sorted(stack_split_errors(true, true, mask * 0))[:2]  # no highlights: seen columns only
        ['ev+1_seen', 'ev+2_seen']
    """
    if stack.shape != true_stack.shape or stack.shape[0] != len(EVS) + 1:
        raise ValueError(f"stack and true_stack must both be (7, 3, H, W), got {tuple(stack.shape)} "
                         f"and {tuple(true_stack.shape)}")
    error = (stack.float().clamp(0, 1) - true_stack.float()).abs().mean(1) * 255  # (7, H, W)
    inside = mask[0, 0] > 0
    return {f"ev{ev:+d}_{part}": float(error[ev + 3][where].mean())
            for ev in EVS for part, where in (("hl", inside), ("seen", ~inside)) if bool(where.any())}


def table(results: dict[str, list[dict]], columns: dict[str, str] = COLUMNS) -> list[str]:
    """Markdown rows (header first): the mean of every one of ``columns`` present, for each method that has
    one of them (``columns=EV_COLUMNS``: the per-EV table of the stack methods; none: no rows)."""
    keys = [k for k in columns if any(k in r for rows in results.values() for r in rows)]
    results = {m: rows for m, rows in results.items() if any(k in r for r in rows for k in keys)}
    return means_table(results, columns, keys) if keys else []


def scores(method: str, model: Reconstructor | None, view: tuple[torch.Tensor, ...], mask: torch.Tensor,
           jod: bool) -> dict[str, float]:
    """:func:`split_scores` of ``method`` (:func:`~bench.studies.scoring.reconstruct`) on one
    ``(ldr, hdr, true_stack)`` view, and :func:`stack_split_errors` where it makes a stack.

    Example:
        >>> from ops.exposure import exposure_stack
        >>> ldr = torch.rand(3, 8, 8) * 0.5; ldr[..., :2] = 1.0  # clipped left quarter
        >>> view = (ldr, ldr[None] ** 2.2, exposure_stack(ldr[None], range(-3, 4))[0])
        >>> out = scores("analytic stack", None, view, highlight_mask(ldr), jod=False)
        >>> out["ev-3_hl"], out["ev-3_seen"], "ev-3_hl" in scores("x^2.2", None, view, highlight_mask(ldr), False)
        (0.0, 0.0, False)
    """
    ldr, hdr, true_stack = view
    radiance, stack = reconstruct(method, model, ldr)
    out = split_scores(radiance, hdr, mask, jod)
    return out if stack is None else {**out, **stack_split_errors(stack, true_stack, mask)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, or 'packaged'")
    parser.add_argument("--threshold", type=float, default=0.95, help="highlight: brightest channel >= this")
    parser.add_argument("--size", type=int, default=128, help="side of the held-out views")
    parser.add_argument("--groups", nargs="+", choices=[*GROUPS, "all"], default=["held-out", "memorial"],
                        help="held-out (EMoR), a response family of unseen_responses, memorial, or all")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args(argv)
    if not 0 < args.threshold <= 1:
        parser.error(f"--threshold must be in (0, 1], got {args.threshold}")
    methods = methods_or_exit(parser, args.models)
    jod = cvvdp_available()
    groups = GROUPS if "all" in args.groups else list(dict.fromkeys(args.groups))
    held = held_out(args.size) if set(groups) - {"memorial"} else None
    lines = [f"Scores inside and outside the input's highlights (brightest channel >= {args.threshold}); "
             "`highlights`: the reference pasted outside them, `seen pixels`: pasted inside them; `clipped "
             "error`: mean |log2(method / reference)| luminance inside them. Per-EV tables: mean |error| of each "
             "generated exposure against the true stack, in 8-bit levels, inside (`highlights`) and outside "
             "(`seen`) the input's highlights, for the methods that make a stack (`bench/studies/highlights.py`). "
             "Mean over the inputs." + ("" if jod else " JOD: cvvdp not installed."), ""]
    for group in groups:
        data = memorial_views(list(range(6, 13))) if group == "memorial" else views(held, RESPONSES.get(group))
        masks = [highlight_mask(ldr, args.threshold) for ldr, _, _ in data]
        results = {method: [scores(method, model, view, mask, jod)
                            for view, mask in tqdm(list(zip(data, masks)), desc=f"{group}: {method}", leave=False)]
                   for method, model in methods.items()}
        fraction = np.mean([float(mask.mean()) for mask in masks])
        title = {"held-out": f"held-out views (lab, venice, night; 24; {args.size} px)",
                 "memorial": MEMORIAL}.get(group, f"held-out views through {group} (noise-free; {args.size} px)")
        lines += [f"**{title}**: {100 * fraction:.1f} % of the pixels are highlights", "", *table(results), ""]
        if per_ev := table(results, EV_COLUMNS):
            lines += [f"*{title}: stack error per EV (8-bit levels)*", "", *per_ev, ""]
    write_report("\n".join(lines), args.output)


if __name__ == "__main__":
    main()
