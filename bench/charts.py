"""Bar charts shared by the benches (PNG, written atomically by :func:`hdrsyn.plots.save_figure`).

- :func:`spread_bars`: one panel per metric, one bar per run, a spread (e.g. the std over seeds) as error
  bars, the axis zoomed on the differences;
- :func:`grouped_bars`: one group of bars per condition, one bar per method in each.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hdrsyn.plots import plt, save_figure


def spread_bars(panels: Mapping[str, Mapping[str, tuple[float, float]]], path: Path) -> None:
    """One panel per title of ``panels``: a bar per label at its mean, its spread as error bars
    (``{title: {label: (mean, spread)}}``). The axis does not start at 0: it is zoomed on the differences."""
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6))
    for ax, (title, stats) in zip(np.atleast_1d(axes), panels.items()):
        means, stds = [s[0] for s in stats.values()], [s[1] for s in stats.values()]
        ax.bar(range(len(stats)), means, yerr=stds, capsize=3, color="#4c72b0")
        low, high = min(m - d for m, d in zip(means, stds)), max(m + d for m, d in zip(means, stds))
        pad = max(0.1 * (high - low), 0.05)
        ax.set_ylim(low - 4 * pad, high + pad)  # zoomed on the differences: the axis does not start at 0
        ax.set_xticks(range(len(stats)), list(stats), rotation=40, ha="right", fontsize=8)
        ax.set_title(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path)


def grouped_bars(values: Mapping[str, Mapping[str, float]], path: Path, ylabel: str, title: str) -> None:
    """Grouped bars: per group of ``values`` (``{group: {method: value}}``), a bar per method (the first
    group's methods, in its order); the axis starts 2 below the lowest value."""
    groups, methods = list(values), list(next(iter(values.values())))
    fig, ax = plt.subplots(figsize=(1.6 * len(groups) + 2, 3.6), dpi=100)
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        xs = [g + (k - (len(methods) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, [values[group][method] for group in groups], width, label=method)
    ax.set_xticks(range(len(groups)), [g.replace(" (", "\n(") for g in groups], fontsize=8)
    low = min(min(v.values()) for v in values.values())
    ax.set_ylim(low - 2, None)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)
