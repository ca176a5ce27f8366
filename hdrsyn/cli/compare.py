"""``hdrsyn compare``: one table (markdown + CSV) and a bar chart from the test summaries of several runs.

The table and chart, and the runs' per-image scores joined into one long table, are also logged as a
W&B run (``job_type: compare``) of the summaries' project and group, so that a dashboard shows the
methods side by side (offline unless ``WANDB_MODE`` says otherwise; ``--no-wandb`` skips it). The tables,
chart and W&B run are :mod:`hdrsyn.comparison`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from hdrsyn.comparison import find_summaries, load_rows, log_to_wandb, write_comparison
from hdrsyn.errors import ArgumentParser


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn compare RUN_OR_SUMMARY... -o OUT [--project P] [--group G] [--no-wandb]``: writes
    OUT/comparison.{md,csv,png,html} and logs them as a W&B run."""
    parser = ArgumentParser(prog="hdrsyn compare", description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="+", type=Path, help="summary.json files or folders holding them")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder for comparison.{md,csv,png,html} (html: the "
                        "methods' HDR side by side per scene with a shared exposure slider)")
    parser.add_argument("--project", help="W&B project (default: the summaries' own, else hdrsyn)")
    parser.add_argument("--group", help="W&B group (default: the summaries' own)")
    parser.add_argument("--no-wandb", action="store_true", help="do not log the comparison to W&B")
    args = parser.parse_args(argv)
    try:
        rows = load_rows(find_summaries(args.paths))
    except (FileNotFoundError, ValueError) as error:
        print(f"hdrsyn compare: error: {error}", file=sys.stderr)
        return 2
    print(write_comparison(rows, args.output))
    if not args.no_wandb:
        print(f"W&B run: {log_to_wandb(rows, args.output, args.project, args.group)}")
    return 0
