"""The release judge: does a candidate model beat the packaged one on the mixed table of camera families?

Every model is scored on the same inputs, one row per (family, view, method) in ``--csv``:

- **EMoR**: the 24 held-out views of ``lightning test`` (lab, venice, night) as it sees them
  (``--scenes test``: the 48 views of the sample's 6 test scenes instead, in every family: a check of a
  decision on scenes nothing was chosen on);
- **sRGB**, **sRGB + S-curve**, **log (phone HDR)**: those views again, noise-free, through the textbook
  consumer responses of ``bench/studies/unseen_responses.py``;
- **darktable basecurves**, **RawTherapee DCP tone curves**: those views through real camera makers' tone
  curves (``bench/studies/maker_curves.py``; view ``k`` through curve ``k mod n``), each metered as its camera
  does: the view's key lands on the level plain sRGB gives 18 % grey (:func:`metering`);
- **Memorial (film)**: Debevec's Memorial Church, exposures 6..12 as inputs: reported, not judged (a 1997
  film scan, not a digital camera's response);
- **highlights**: every judged view's clipped-region error, the mean absolute error in stops of the HDR's
  luminance inside the input's clipped pixels (brightest channel >= 0.95; views without any are left out;
  lower is better).

Scores: PU21-PSNR and JOD (ColorVideoVDP, when the ``cvvdp`` package is installed) of the HDR, as
``lightning test`` computes them, and the clipped-region error. **The rule** (:func:`judge`): a candidate
ships when its mean over the judged families beats the reference's on PU21-PSNR and on JOD, and in no family
(highlights included) it loses by more than one standard error of the paired difference over the views.

    python -m bench.studies.release packaged candidate=runs/joint/checkpoints/last.ckpt --reference packaged \\
        --csv reports/release/judge/scores.csv -o reports/release/judge/table.md
    python -m bench.studies.release --from-csv reports/release/judge/scores.csv more.csv --reference packaged
"""

from __future__ import annotations

import argparse
import csv
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from bench.charts import grouped_bars
from bench.studies.highlights import highlight_mask, highlight_stops
from bench.studies.maker_curves import MAKER_FAMILIES, maker_responses
from bench.studies.scoring import held_out, memorial_views, methods_or_exit, reconstruct, view_tensors, views
from bench.studies.unseen_responses import RESPONSES, srgb
from bench.tables import cell, markdown_table, write_report
from hdrsyn.io import atomic_write
from hdrsyn.metrics import color_video_vdp, cvvdp_available, pu21_psnr
from hdrsyn.render import EMoR, render_stack

EMOR_FAMILY = "EMoR"
MEMORIAL_FAMILY = "Memorial (film)"
HIGHLIGHTS = "highlights"
#: The families whose views are scored, in table order; all but Memorial are judged.
FAMILIES = (EMOR_FAMILY, *RESPONSES, *MAKER_FAMILIES, MEMORIAL_FAMILY)
#: Per metric: its column title and whether higher is better.
METRICS = {"pu21": ("PU21-PSNR", True), "jod": ("JOD", True), "clipped": ("clipped error (stops)", False)}

Response = Callable[[np.ndarray], np.ndarray]


def metering(response: Response, key: float = 0.18) -> float:
    """Exposure factor ``m`` for which ``response(m * key)`` is plain sRGB's level for ``key``: a camera
    with that tone curve meters a scene so that its mid-grey lands where sRGB puts 18 % grey.

    Example:
        >>> round(metering(srgb), 3), round(metering(np.sqrt), 3)  # sqrt is darker at 18 %: exposed more
        (1.0, 1.182)
    """
    grid = np.linspace(0.0, 1.0, 100_001)
    values = np.maximum.accumulate(response(grid))  # the first level reaching the target on a dipping curve
    return float(np.interp(float(srgb(np.float64(key))), values, grid) / key)


def curve_views(data, responses: Sequence[Response]) -> list[tuple[torch.Tensor, ...]]:
    """``(ldr, hdr, true_stack)`` of each view of ``data`` (a held-out :class:`SampleDataset`) through
    ``responses[k % len(responses)]``, exposed by its :func:`metering` (the reference ``hdr`` as it is)."""
    grid = np.clip(EMoR.load().E, 0.0, 1.0)
    cameras = [(response(grid), np.float32(metering(response))) for response in responses]  # once per curve
    out = []
    for k, hdr in enumerate(data.hdrs):
        curve, exposure = cameras[k % len(cameras)]
        out.append(view_tensors(render_stack(hdr * exposure, curve), hdr))
    return out


def family_views(family: str, size: int, scenes: str = "val") -> list[tuple[torch.Tensor, ...]]:
    """The inputs of one of :data:`FAMILIES` at ``size`` px (Memorial at its own size), from the held-out
    scenes (``scenes="val"``) or the sample's test scenes (``"test"``: 48 views nothing was chosen on)."""
    if family == MEMORIAL_FAMILY:
        return memorial_views(list(range(6, 13)))
    held = held_out(size, scenes)
    if family in MAKER_FAMILIES:
        return curve_views(held, list(maker_responses(family).values()))
    return views(held, RESPONSES.get(family))


def view_scores(radiance: torch.Tensor, hdr: torch.Tensor, ldr: torch.Tensor, jod: bool) -> dict[str, float | None]:
    """PU21-PSNR, JOD (None without ``jod``) and the clipped-region error (None: nothing clipped) of one view."""
    mask = highlight_mask(ldr)
    return {"pu21": float(pu21_psnr(radiance, hdr)), "jod": float(color_video_vdp(radiance, hdr)) if jod else None,
            "clipped": highlight_stops(radiance, hdr, mask)["clipped_error"] if bool(mask.any()) else None}


def score_all(methods: dict, size: int, families: Sequence[str] = FAMILIES, scenes: str = "val") -> list[dict]:
    """One record ``{family, view, method, pu21, jod, clipped}`` per view of each family and method."""
    jod = cvvdp_available()
    rows = []
    for family in families:
        data = family_views(family, size, scenes)
        for method, model in methods.items():
            for k, (ldr, hdr, _) in enumerate(tqdm(data, desc=f"{family}: {method}", leave=False)):
                radiance = reconstruct(method, model, ldr)[0]
                rows.append({"family": family, "view": k, "method": method, **view_scores(radiance, hdr, ldr, jod)})
    return rows


def write_scores(rows: list[dict], path: Path) -> None:
    """The records of :func:`score_all` as CSV (empty cells for missing scores), all or nothing."""

    def write(target: Path) -> None:
        with target.open("w", newline="") as file:
            writer = csv.DictWriter(file, fieldnames=["family", "view", "method", *METRICS])
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)

    atomic_write(path, write)


def read_scores(path: Path) -> list[dict]:
    """The records of a :func:`write_scores` CSV."""
    with path.open(newline="") as file:
        return [{"family": r["family"], "view": int(r["view"]), "method": r["method"],
                 **{m: float(r[m]) if r.get(m) not in (None, "") else None for m in METRICS}}
                for r in csv.DictReader(file)]


def merged(tables: list[list[dict]]) -> list[dict]:
    """The records of several :func:`read_scores` tables, a (family, view, method) in several kept once (the first).

    Example:
        >>> a = [{"family": "sRGB", "view": 0, "method": "m", "pu21": 1.0}]
        >>> merged([a, [{"family": "sRGB", "view": 0, "method": "m", "pu21": 2.0}]])[0]["pu21"]
        1.0
    """
    seen, out = set(), []
    for rows in tables:
        for row in rows:
            key = (row["family"], row["view"], row["method"])
            if key not in seen:
                seen.add(key)
                out.append(row)
    return out


def family_scores(rows: list[dict], family: str, method: str, metric: str) -> dict[int, float]:
    """``{view: score}`` of ``method`` in ``family`` (``"highlights"``: every judged family's clipped errors,
    keyed ``(family, view)``)."""
    if family == HIGHLIGHTS:
        return {(r["family"], r["view"]): r["clipped"] for r in rows
                if r["method"] == method and r["family"] != MEMORIAL_FAMILY and r["clipped"] is not None}
    return {r["view"]: r[metric] for r in rows
            if r["family"] == family and r["method"] == method and r[metric] is not None}


@dataclass(frozen=True)
class Paired:
    """A candidate minus the reference over the views both have, signed so that positive is better."""

    mean: float
    se: float
    n: int

    @property
    def loses(self) -> bool:
        """Behind by more than one standard error."""
        return self.mean < -self.se

    def __str__(self) -> str:
        return f"{self.mean:+.2f} ± {self.se:.2f}" + (" ✗" if self.loses else "")


def paired(candidate: dict, reference: dict, higher_is_better: bool) -> Paired | None:
    """:class:`Paired` of two ``{view: score}`` dicts (None: fewer than two shared views).

    Example:
        >>> str(paired({0: 21.0, 1: 23.0, 2: 22.0}, {0: 20.0, 1: 22.5, 2: 22.5}, True))
        '+0.33 ± 0.44'
    """
    keys = sorted(set(candidate) & set(reference), key=str)
    if len(keys) < 2:
        return None
    sign = 1.0 if higher_is_better else -1.0
    diff = np.array([sign * (candidate[k] - reference[k]) for k in keys])
    return Paired(float(diff.mean()), float(diff.std(ddof=1) / math.sqrt(len(diff))), len(diff))


def judged_cells(rows: list[dict]) -> list[tuple[str, str]]:
    """The (family, metric) pairs the rule looks at: PU21-PSNR and JOD per judged family, present in
    ``rows``, then the highlights' clipped error."""
    present = {r["family"] for r in rows}
    cells = [(f, m) for f in FAMILIES if f in present and f != MEMORIAL_FAMILY for m in ("pu21", "jod")
             if any(r["family"] == f and r[m] is not None for r in rows)]
    return cells + [(HIGHLIGHTS, "clipped")]


@dataclass(frozen=True)
class Verdict:
    """The rule's answer for one candidate: the means over the judged families, the paired differences per
    (family, metric) and whether it ships."""

    candidate: str
    means: dict[str, tuple[float, float]]  # metric -> (candidate's, reference's) mean over judged families
    differences: dict[tuple[str, str], Paired | None]

    @property
    def ships(self) -> bool:
        beats = all(c > r for c, r in self.means.values())
        return beats and not any(d is not None and d.loses for d in self.differences.values())


def judge(rows: list[dict], candidate: str, reference: str) -> Verdict:
    """The rule of the module doc for ``candidate`` against ``reference`` on the records ``rows``."""
    methods = {r["method"] for r in rows}
    for name in (candidate, reference):
        if name not in methods:
            raise ValueError(f"no scores of {name!r}; the scores have {sorted(methods)}")
    cells = judged_cells(rows)
    differences = {(f, m): paired(family_scores(rows, f, candidate, m), family_scores(rows, f, reference, m),
                                  METRICS[m][1]) for f, m in cells}
    means = {}
    for metric in ("pu21", "jod"):
        families = [f for f, m in cells if m == metric]
        if families:
            means[metric] = tuple(float(np.mean([np.mean(list(family_scores(rows, f, who, metric).values()))
                                                 for f in families])) for who in (candidate, reference))
    return Verdict(candidate, means, differences)


def report(rows: list[dict], reference: str) -> str:
    """The mixed table (one row per family and metric, one column per method: its mean over the views) and
    the verdict of every model against ``reference`` (paired differences per row, means, ships or not)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    present = [f for f in FAMILIES if any(r["family"] == f for r in rows)]
    cells = [(f, m) for f in present for m in ("pu21", "jod")
             if any(r["family"] == f and r[m] is not None for r in rows)] + [(HIGHLIGHTS, "clipped")]

    def mean(family: str, method: str, metric: str) -> float | None:
        values = list(family_scores(rows, family, method, metric).values())
        return float(np.mean(values)) if values else None

    lines = ["Mean over each family's views (`bench/studies/release.py`; Memorial: film, reported, not judged; "
             "highlights: the clipped-region error of every judged view, lower is better).", ""]
    lines += markdown_table(["family", "metric", *methods],
                            [[f, METRICS[m][0], *(cell(mean(f, who, m)) for who in methods)] for f, m in cells])
    candidates = [m for m in methods if m not in (reference, "x^2.2", "analytic stack")]
    if candidates:
        verdicts = [judge(rows, m, reference) for m in candidates]
        judged = judged_cells(rows)
        lines += ["", f"Paired against **{reference}**: candidate − reference ± one standard error over the views "
                  "(positive is better; ✗: behind by more than one SE).", ""]
        body = [[f, METRICS[m][0], *(cell(v.differences[(f, m)] and str(v.differences[(f, m)])) for v in verdicts)]
                for f, m in judged]
        body += [["mean over the judged families", METRICS[m][0],
                  *(f"{v.means[m][0]:.2f} vs {v.means[m][1]:.2f}" if m in v.means else cell(None) for v in verdicts)]
                 for m in ("pu21", "jod")]
        body.append(["**ships**", "", *("**yes**" if v.ships else "no" for v in verdicts)])
        lines += markdown_table(["family", "metric", *candidates], body)
    return "\n".join(lines)


def chart(rows: list[dict], path: Path) -> None:
    """Grouped bars: per family (Memorial last), every method's mean PU21-PSNR over the family's views."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    values = {textwrap.fill(family, 16): {m: float(np.mean(list(family_scores(rows, family, m, "pu21").values())))
                                          for m in methods}
              for family in FAMILIES if any(r["family"] == family for r in rows)}
    grouped_bars(values, path, ylabel="PU21-PSNR (dB)", title="The release judge's camera families (Memorial: film)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, or 'packaged' (the default packaged model)")
    parser.add_argument("--reference", default="packaged", help="the method the others are judged against")
    parser.add_argument("--size", type=int, default=128, help="side of the held-out views")
    parser.add_argument("--families", nargs="+", choices=FAMILIES, default=list(FAMILIES))
    parser.add_argument("--scenes", choices=("val", "test"), default="val",
                        help="the held-out scenes the rule judges on (val), or the sample's 6 test scenes, nothing "
                             "chosen on them (test: a check of a decision, 48 views per family)")
    parser.add_argument("--csv", type=Path, help="write every view's scores here")
    parser.add_argument("--no-references", action="store_true",
                        help="score only the models, not x^2.2 and the analytic stack (e.g. to add them to a CSV)")
    parser.add_argument("--from-csv", type=Path, nargs="+",
                        help="judge the scores of earlier --csv files instead of running models (a method, family "
                             "and view scored in several: the first file's)")
    parser.add_argument("-o", "--output", type=Path)
    parser.add_argument("--chart", type=Path, help="PNG: per family, every method's mean PU21-PSNR as grouped bars")
    args = parser.parse_args(argv)
    if args.from_csv:
        if args.models:
            parser.error("give models or --from-csv, not both")
        missing = [str(path) for path in args.from_csv if not path.is_file()]
        if missing:
            parser.error(f"--from-csv: no such file: {', '.join(missing)}")
        rows = merged([read_scores(path) for path in args.from_csv])
    else:
        methods = methods_or_exit(parser, args.models)
        if args.no_references:
            methods = {k: v for k, v in methods.items() if v is not None}
            if not methods:
                parser.error("--no-references needs at least one model")
        rows = score_all(methods, args.size, args.families, args.scenes)
        if args.csv:
            write_scores(rows, args.csv)
    if args.reference not in {r["method"] for r in rows}:
        parser.error(f"--reference {args.reference!r} is not among the scored methods")
    write_report(report(rows, args.reference), args.output)
    if args.chart:
        chart(rows, args.chart)


if __name__ == "__main__":
    main()
