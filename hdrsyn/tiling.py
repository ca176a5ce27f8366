"""Run a fully convolutional image network on any size: reflect padding, or overlapping tiles blended with ramps.

Tiles start on multiples of the network's size multiple, so every tile sees the same pooling grid as the
whole padded image. A tiled run is not equal to an untiled one: each tile's instance norms use that tile's
statistics, and a tile misses the context beyond its border (receptive field, Canny hysteresis). Weights
that rise linearly across each overlap make the transitions between tiles smooth (no seams). Replaying
image-wide norm statistics gathered from the tiles themselves (aggregated, from a downscaled pass, or
iterated) was measured to be worse than per-tile statistics, so none is attempted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn
from tqdm.auto import tqdm

from ops.padding import mirror_pad


class Span(NamedTuple):
    """One tile along one axis: ``[start, stop)``."""

    start: int
    stop: int


def pad_to_multiple(image: torch.Tensor, multiple: int) -> torch.Tensor:
    """Pad ``(B, C, H, W)`` at the bottom and right up to multiples of ``multiple``.

    Reflect padding, or edge replication when the image is too small to reflect.
    """
    h, w = image.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if pad_h == pad_w == 0:
        return image
    return mirror_pad(image, 0, pad_w, 0, pad_h)


def check_tiling(tile: int, overlap: int, multiple: int) -> None:
    """Raise ``ValueError`` unless ``tile`` > ``overlap`` >= 0 are multiples of ``multiple``."""
    if tile % multiple or tile <= 0:
        raise ValueError(f"tile={tile} must be a positive multiple of {multiple} (the model's size multiple)")
    if overlap % multiple or not 0 <= overlap < tile:
        raise ValueError(f"overlap={overlap} must be a multiple of {multiple} in [0, tile={tile})")


def tile_spans(length: int, tile: int, overlap: int, multiple: int) -> list[Span]:
    """Tiles covering ``[0, length)``: ``tile`` long, overlapping by at least ``overlap``, starts on ``multiple``.

    The last tile ends at ``length`` and may overlap its neighbour by more.
    """
    check_tiling(tile, overlap, multiple)
    if length <= tile:
        return [Span(0, length)]
    starts = [*range(0, length - tile, tile - overlap), length - tile]
    return [Span(start, start + tile) for start in starts]


def ramp(spans: Sequence[Span], index: int, device: torch.device) -> torch.Tensor:
    """Blending weight along one axis of tile ``index``: rises across the overlap with the previous tile,
    falls across the overlap with the next one, 1 elsewhere (always > 0)."""
    span = spans[index]
    position = torch.arange(span.stop - span.start, device=device, dtype=torch.float32) + 0.5
    weight = torch.ones_like(position)
    if index > 0 and spans[index - 1].stop > span.start:
        weight = weight * (position / (spans[index - 1].stop - span.start)).clamp(max=1)
    if index + 1 < len(spans) and span.stop > spans[index + 1].start:
        weight = weight * ((len(position) - position) / (span.stop - spans[index + 1].start)).clamp(max=1)
    return weight


def run_tiled(
    network: nn.Module,
    image: torch.Tensor,
    multiple: int,
    tile: int | None = None,
    overlap: int = 64,
    progress: bool = False,
) -> torch.Tensor:
    """``network(image)`` for a ``(1, C, H, W)`` image of any size; output cropped back to ``H x W``.

    The image is reflect-padded to multiples of ``multiple``. With ``tile`` set and the padded image larger
    than ``tile`` on a side, it is processed in ``tile``-sized tiles overlapping by ``overlap`` (both
    multiples of ``multiple``) and blended with linear ramps. The
    network's output must be ``(1, ..., H, W)``, spatially aligned with its input.
    """
    if image.dim() != 4 or image.shape[0] != 1:
        raise ValueError(f"image must be (1, C, H, W), got shape {tuple(image.shape)}")
    h, w = image.shape[-2:]
    padded = pad_to_multiple(image, multiple)
    ph, pw = padded.shape[-2:]
    if tile is None or (ph <= tile and pw <= tile):
        return network(padded)[..., :h, :w]
    rows, cols = tile_spans(ph, tile, overlap, multiple), tile_spans(pw, tile, overlap, multiple)
    tiles = [(i, j) for i in range(len(rows)) for j in range(len(cols))]
    total = weights = None
    for i, j in tqdm(tiles, desc="tiles", disable=not progress, leave=False):
        r, c = rows[i], cols[j]
        out = network(padded[..., r.start : r.stop, c.start : c.stop])
        if total is None:
            total = out.new_zeros(*out.shape[:-2], ph, pw)
            weights = out.new_zeros(ph, pw)
        weight = ramp(rows, i, out.device)[:, None] * ramp(cols, j, out.device)[None, :]
        total[..., r.start : r.stop, c.start : c.stop] += out * weight
        weights[r.start : r.stop, c.start : c.stop] += weight
    return (total / weights)[..., :h, :w]
