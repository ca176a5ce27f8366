"""Markdown tables shared by the benches: the table itself, its cells, means per method, and the report.

Example:
    >>> print("\\n".join(markdown_table(["method", "PSNR"], [["a", cell(20.0)], ["b", cell(None)]])))
    | method | PSNR |
    |---|---|
    | a | 20.00 |
    | b | — |
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from hdrsyn.io import atomic_write

MISSING = "—"


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a markdown table: ``header``, the separator, one line per row (cells as ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines


def cell(value: object, digits: int = 2) -> str:
    """A number with ``digits`` decimals, other values as they are, :data:`MISSING` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def means_table(results: Mapping[str, Sequence[Mapping[str, float]]], columns: Mapping[str, str],
                keys: Sequence[str]) -> list[str]:
    """Markdown lines (header first): one row per method of ``results`` (method -> one score dict per input),
    the mean of each of ``keys`` (headed ``columns[key]``) over the inputs that have it, :data:`MISSING`
    where none does.

    Example:
        >>> means_table({"a": [{"pu21": 20.0}, {"pu21": 21.0}]}, {"pu21": "PU21", "mu": "μ"}, ["pu21", "mu"])[2]
        '| a | 20.50 | — |'
    """
    rows = []
    for method, scores in results.items():
        cells = [f"{np.mean([r[k] for r in scores if k in r]):.2f}" if any(k in r for r in scores) else MISSING
                 for k in keys]
        rows.append([method, *cells])
    return markdown_table(["method", *(columns[k] for k in keys)], rows)


def write_report(text: str, output: Path | None) -> None:
    """Print ``text`` and write it to ``output`` (all or nothing, its folder made) when given."""
    print(text)
    if output is not None:
        atomic_write(output, lambda path: path.write_text(text))
