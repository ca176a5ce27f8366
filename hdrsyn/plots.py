"""Pictures a person would rather look at than read: response curves and tone-mapped previews."""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from hdrsyn.io import atomic_write  # noqa: E402

CHANNEL_COLOURS = ("tab:red", "tab:green", "tab:blue")


def plot_response(inverse_crf: np.ndarray, path: str | Path, title: str = "Recovered camera response") -> None:
    """Save a PNG of a ``(3, levels)`` inverse CRF: pixel value against log exposure, per channel."""
    inverse_crf = np.asarray(inverse_crf, dtype=np.float64)
    if inverse_crf.ndim != 2 or inverse_crf.shape[0] != 3:
        raise ValueError(f"inverse_crf must be (3, levels), got {inverse_crf.shape}")
    levels = np.arange(inverse_crf.shape[1])
    fig, ax = plt.subplots(figsize=(5, 4), dpi=100)
    for curve, colour, name in zip(inverse_crf, CHANNEL_COLOURS, "RGB"):
        ax.plot(np.log2(np.maximum(curve, 1e-12)), levels, color=colour, label=name)
    ax.set_xlabel("log2 relative exposure  (log2 f^-1(Z))")
    ax.set_ylabel("pixel value Z")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def save_figure(fig: plt.Figure, path: str | Path) -> None:
    """Render ``fig`` to PNG, write it atomically to ``path`` and close it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight")
    plt.close(fig)
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(buffer.getvalue()))
