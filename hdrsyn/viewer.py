"""Self-contained HTML pages to look at HDR results in a browser: an exposure slider (EV -6..+6) and a
choice of tone maps over the radiance itself, not over a fixed preview.

* :func:`write_photo_page` -- one reconstructed photo (``hdrsyn reconstruct``): the HDR, its generated
  exposure stack and the recovered camera response;
* :func:`write_comparison_page` -- methods side by side (``hdrsyn compare``): one row per test scene, one
  column per run, a shared slider, the per-image scores under each image and the summary table.

A page is one HTML file (template ``hdrsyn/assets/viewer.html``) that requests nothing: its content
security policy forbids any load, and the data is inline. The radiance is downscaled (area average) to
:data:`PHOTO_SIDE` / :data:`PANEL_SIDE` pixels on the long side and stored as planar RGBE (8-bit mantissas
per channel, a shared exponent: 1/256 relative precision over any range), zlib-compressed, base64; the
page inflates it with the browser's ``DecompressionStream`` and tone-maps it on a canvas. EV 0 puts
each image's log-average luminance at middle grey (0.18), the exposure of the previews.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hdrsyn.assets_index import ASSETS
from hdrsyn.gainmap import as_levels
from hdrsyn.io import atomic_write, read_hdr

TEMPLATE = ASSETS / "viewer.html"
#: Longest side of the photo page's HDR, of a comparison panel, and height of a stack thumbnail (pixels).
PHOTO_SIDE, PANEL_SIDE, THUMBNAIL_HEIGHT = 1024, 320, 240
#: Scenes shown on a comparison page (the first ones by name).
MAX_SCENES = 8
_CHANNELS = (("#e0524f", "R"), ("#4fbf5a", "G"), ("#4f8fe0", "B"))


@dataclass(frozen=True)
class Panel:
    """One image of a comparison page: its column's label, linear radiance ``(H, W, 3)`` and the scores
    shown under it as ``(name, formatted value)``."""

    label: str
    radiance: np.ndarray
    scores: Sequence[tuple[str, str]] = ()


def fit(image: np.ndarray, max_side: int) -> np.ndarray:
    """``image`` area-downscaled so that its longer side is at most ``max_side`` (never enlarged).

    Example:
        >>> fit(np.zeros((300, 1200, 3), np.float32), 400).shape
        (100, 400, 3)
    """
    height, width = image.shape[:2]
    factor = max_side / max(height, width)
    if factor >= 1:
        return image
    size = (max(1, round(width * factor)), max(1, round(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def rgbe_planes(radiance: np.ndarray) -> bytes:
    """Planar RGBE bytes of ``(H, W, 3)`` radiance: the R, G and B mantissa planes, then the exponent
    plane (Ward's encoding: value = (mantissa + 0.5) * 2**(exponent - 136); exponent 0 is black).
    Negative and non-finite values become 0.

    Example:
        >>> list(rgbe_planes(np.array([[[1.0, 0.5, 0.0]]], np.float32)))
        [128, 64, 0, 129]
    """
    rgb = np.nan_to_num(np.maximum(np.asarray(radiance, np.float32), 0.0), posinf=0.0)
    brightest = rgb.max(axis=-1)
    mantissa, exponent = np.frexp(brightest)
    lit = brightest > 1e-32
    scale = np.where(lit, mantissa * 256 / np.where(lit, brightest, 1), 0)
    planes = np.empty((4, *brightest.shape), np.uint8)
    planes[:3] = np.moveaxis(np.clip(rgb * scale[..., None], 0, 255), -1, 0).astype(np.uint8)
    planes[3] = np.where(lit, exponent + 128, 0).astype(np.uint8)
    return planes.tobytes()


def _hdr_data(radiance: np.ndarray, max_side: int) -> dict:
    """A page's HDR image entry: its size and planar RGBE, zlib-compressed, base64."""
    small = fit(np.asarray(radiance, np.float32), max_side)
    data = base64.b64encode(zlib.compress(rgbe_planes(small), 9)).decode("ascii")
    return {"width": int(small.shape[1]), "height": int(small.shape[0]), "rgbe": data}


def _data_uri(pixels: np.ndarray, height: int = THUMBNAIL_HEIGHT) -> str:
    """An RGB image (uint8, or float in [0, 1]) as a ``data:`` JPEG URI, downscaled to ``height`` rows
    (never enlarged)."""
    buffer = io.BytesIO()
    pixels = as_levels(pixels)
    small = fit(pixels, max(height, round(height * pixels.shape[1] / pixels.shape[0])))
    Image.fromarray(np.ascontiguousarray(small)).save(buffer, format="JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def response_svg(inverse_crf: np.ndarray, width: int = 480, height: int = 320) -> str:
    """An SVG plot of a ``(3, levels)`` inverse camera response: pixel value against log2 exposure, per
    channel (the axes of :func:`hdrsyn.plots.plot_response`); exposures more than 24 stops below the
    brightest, and level 0's (often 0), are drawn at the left edge.

    Example:
        >>> svg = response_svg(np.tile(np.linspace(0.01, 1, 256), (3, 1)))
        >>> svg.startswith("<svg") and svg.count("<polyline") == 3
        True
    """
    curves = np.log2(np.maximum(np.asarray(inverse_crf, np.float64), 1e-12))
    if curves.ndim != 2 or curves.shape[0] != 3:
        raise ValueError(f"inverse_crf must be (3, levels), got {curves.shape}")
    levels = curves.shape[1]
    high = math.ceil(curves.max())
    low = max(math.floor(curves[:, 1:].min() if levels > 1 else curves.min()), high - 24)  # level 0 may be 0
    high = max(high, low + 1)
    curves = np.clip(curves, low, high)
    left, right, top, bottom = 48, width - 12, 12, height - 36

    def x(value: float) -> float:
        return left + (value - low) / (high - low) * (right - left)

    def y(level: float) -> float:
        return bottom - level / (levels - 1) * (bottom - top)

    step = max(1, levels // 256)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="recovered camera response">',
             f'<rect x="{left}" y="{top}" width="{right - left}" height="{bottom - top}" fill="none" stroke="#666"/>']
    for tick in range(low, high + 1, max(1, (high - low) // 8)):
        parts.append(f'<text x="{x(tick):.1f}" y="{bottom + 14}" text-anchor="middle">{tick}</text>')
    for level in (0, (levels - 1) // 2, levels - 1):
        parts.append(f'<text x="{left - 6}" y="{y(level) + 4:.1f}" text-anchor="end">{level}</text>')
    parts.append(f'<text x="{(left + right) / 2}" y="{height - 4}" text-anchor="middle">'
                 f'log2 relative exposure (log2 f⁻¹(Z))</text>')
    for curve, (colour, name) in zip(curves, _CHANNELS, strict=True):
        points = " ".join(f"{x(v):.1f},{y(i):.1f}" for i, v in list(enumerate(curve))[::step])
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}">'
                     f"<title>{name}</title></polyline>")
    return "".join(parts) + "</svg>"


def _page(data: dict) -> str:
    """The viewer template filled with ``data`` (JSON, safe inside a ``<script>``)."""
    text = json.dumps(data, separators=(",", ":")).replace("<", "\\u003c")
    return TEMPLATE.read_text().replace("__TITLE__", html.escape(data["title"])).replace("__DATA__", text)


def photo_page(
    radiance: np.ndarray, title: str, stack: Sequence[np.ndarray] = (), evs: Sequence[float] = (),
    inverse_crf: np.ndarray | None = None, max_side: int = PHOTO_SIDE,
) -> str:
    """The HTML of one photo's page: linear ``radiance`` ``(H, W, 3)``, its generated exposure ``stack``
    (``(H, W, 3)`` images at ``evs``, uint8 or float in [0, 1]) and ``inverse_crf`` ``(3, levels)``, when given."""
    if len(stack) != len(evs):
        raise ValueError(f"{len(stack)} stack images for {len(evs)} EVs")
    hdr = _hdr_data(radiance, max_side)
    height, width = np.shape(radiance)[:2]
    notes = (f"HDR shown at {hdr['width']}x{hdr['height']} (of {width}x{height}). EV 0 puts the log-average "
             "luminance at middle grey (the preview's exposure); hover for the radiance (units of the .exr).")
    return _page({
        "kind": "photo", "title": title, "notes": notes,
        "photo": {"label": title, "image": hdr, "scores": []},
        "stack": [{"label": f"EV {ev:+g}", "src": _data_uri(image)} for ev, image in zip(evs, stack, strict=True)],
        "response": None if inverse_crf is None else response_svg(inverse_crf),
    })


def write_photo_page(path: Path, radiance: np.ndarray, title: str, **options) -> None:
    """:func:`photo_page` written atomically to ``path`` (``.html``)."""
    text = photo_page(radiance, title, **options)
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))


def comparison_page(
    title: str, columns: Sequence[str], scenes: Sequence[tuple[str, Sequence[Panel | None]]],
    table: tuple[Sequence[str], Sequence[Sequence[str]]] | None = None, notes: str = "",
    max_side: int = PANEL_SIDE,
) -> str:
    """The HTML of a comparison: per scene ``(name, panels)`` one panel (or None) per column, and the
    summary ``table`` ``(header, rows)`` of formatted cells above them."""
    if any(len(panels) != len(columns) for _, panels in scenes):
        raise ValueError(f"every scene needs one panel (or None) for each of the {len(columns)} columns")
    return _page({
        "kind": "comparison", "title": title, "columns": list(columns),
        "notes": notes or "EV 0 puts each image's log-average luminance at middle grey (single-image HDR has "
                          "no absolute scale); the slider moves all images together.",
        "table": None if table is None else {"header": list(table[0]), "rows": [list(row) for row in table[1]]},
        "scenes": [{"name": name, "panels": [None if panel is None else
                                             {"label": panel.label, "scores": [list(s) for s in panel.scores],
                                              "image": _hdr_data(panel.radiance, max_side)} for panel in panels]}
                   for name, panels in scenes],
    })


def score(value: float, key: str) -> str:
    """A score with the precision ``hdrsyn compare`` uses: 3 decimals for SSIM-like keys, else 2.

    Example:
        >>> score(0.91234, "pu21_ssim"), score(31.456, "pu21_psnr")
        ('0.912', '31.46')
    """
    return f"{value:.{3 if 'ssim' in key else 2}f}"


def comparison_scenes(
    rows: Sequence[dict], keys: Sequence[str], max_scenes: int = MAX_SCENES,
) -> tuple[list[str], list[tuple[str, list[Panel | None]]], int]:
    """The columns (runs) and first ``max_scenes`` scenes by name, and the number of scenes, of
    ``lightning test`` runs: ``rows`` as :func:`hdrsyn.comparison.load_rows` returns them (``run`` and
    ``folder``), each run's ``hdr/<name>.exr`` and its ``metrics_per_image.csv`` scores of ``keys``."""
    images = [{path.stem: path for path in sorted((Path(row["folder"]) / "hdr").glob("*.exr"))} for row in rows]
    per_image = [_per_image_scores(Path(row["folder"])) for row in rows]
    names = sorted(set().union(*images))
    scenes = []
    for name in names[:max_scenes]:
        panels: list[Panel | None] = []
        for row, found, scores in zip(rows, images, per_image, strict=True):
            values = scores.get(name, {})
            panels.append(None if name not in found else Panel(
                str(row["run"]), read_hdr(found[name]), [(k, score(values[k], k)) for k in keys if k in values]))
        scenes.append((name, panels))
    return [str(row["run"]) for row in rows], scenes, len(names)


def _per_image_scores(folder: Path) -> dict[str, dict[str, float]]:
    """``{image stem: {key: score}}`` from a run's ``metrics_per_image.csv`` (empty if it has none)."""
    path = folder / "metrics_per_image.csv"
    if not path.is_file():
        return {}
    scores = {}
    with path.open(newline="") as file:
        for record in csv.DictReader(file):
            name = record.pop("name", "").replace("/", "_")
            scores[name] = {key: float(value) for key, value in record.items() if _is_number(value)}
    return scores


def _is_number(text: str | None) -> bool:
    try:
        return text is not None and math.isfinite(float(text))
    except ValueError:
        return False


def write_comparison_page(
    path: Path, rows: Sequence[dict], table_keys: Sequence[str], panel_keys: Sequence[str],
    max_scenes: int = MAX_SCENES, max_side: int = PANEL_SIDE,
) -> None:
    """The comparison page of ``lightning test`` runs (``rows`` of :func:`hdrsyn.comparison.load_rows`),
    written atomically to ``path``: their ``table_keys`` scores as ``mean ± std``, the first ``max_scenes``
    scenes with the per-image ``panel_keys`` scores under each image."""
    columns, scenes, total = comparison_scenes(rows, panel_keys, max_scenes)
    keys = [key for key in table_keys if any(key in row["metrics"] for row in rows)]
    header = ["run", "method", "images", *keys]
    cells = [[str(row["run"]), str(row["method"]), str(row["num_images"]),
              *(f"{score(row['metrics'][k], k)} ± {score(row['metrics'].get(k + '_std', 0.0), k)}"
                if k in row["metrics"] else "—" for k in keys)] for row in rows]
    notes = (f"Showing {len(scenes)} of {total} scenes (the first by name). EV 0 puts each image's log-average "
             "luminance at middle grey (single-image HDR has no absolute scale); the slider moves all together.")
    text = comparison_page("hdrsyn compare", columns, scenes, (header, cells), notes, max_side)
    atomic_write(Path(path), lambda tmp: tmp.write_text(text, encoding="utf-8"))
