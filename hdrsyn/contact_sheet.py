"""Contact sheet: a PNG a person can check -- one row per sample, its exposure stack then its tone-mapped HDR."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
import torch

from hdrsyn.io import write_ldr
from hdrsyn.render import EVS
from ops.tonemap import hdr_preview

_HEADER = 22
_FONT = cv2.FONT_HERSHEY_SIMPLEX


def contact_sheet(
    stacks: Sequence[np.ndarray],
    hdrs: Sequence[np.ndarray],
    names: Sequence[str] | None = None,
    evs: Sequence[float] = EVS,
    tile: int = 128,
) -> np.ndarray:
    """Tile stacks and HDR images into one uint8 RGB image.

    Args:
        stacks: per sample ``(N, H, W, 3)``, uint8 or float in [0, 1].
        hdrs: per sample ``(H, W, 3)`` linear HDR; shown with Reinhard's global operator and gamma 2.2.
        names: per-sample labels written on the first tile of each row.
        evs: exposure values of the stack images (column titles).
        tile: side of each (resized) tile in pixels.

    Returns:
        ``(22 + rows * tile, (N + 1) * tile, 3)`` uint8 image with a title strip.
    """
    if len(stacks) != len(hdrs) or not stacks:
        raise ValueError(f"need as many stacks as HDR images (>= 1), got {len(stacks)} and {len(hdrs)}")
    if names is not None and len(names) != len(stacks):
        raise ValueError(f"need one name per sample, got {len(names)} for {len(stacks)}")
    rows = []
    for index, (stack, hdr) in enumerate(zip(stacks, hdrs)):
        if len(stack) != len(evs):
            raise ValueError(f"sample {index}: stack has {len(stack)} images, expected {len(evs)}")
        tiles = [_tile(_as_uint8(image), tile) for image in stack] + [_tile(_tonemap(hdr), tile)]
        if names is not None:
            _label(tiles[0], names[index], (4, tile - 6))
        rows.append(np.concatenate(tiles, axis=1))
    header = np.full((_HEADER, rows[0].shape[1], 3), 32, dtype=np.uint8)
    for column, title in enumerate([f"EV {ev:+g}" for ev in evs] + ["HDR (Reinhard)"]):
        _label(header, title, (column * tile + 4, _HEADER - 6))
    return np.concatenate([header, *rows], axis=0)


def save_contact_sheet(path: str | Path, stacks: Sequence[np.ndarray], hdrs: Sequence[np.ndarray], **kwargs) -> Path:
    """Write :func:`contact_sheet` as an 8-bit PNG (keyword arguments are passed on); returns the path."""
    path = Path(path)
    write_ldr(path, contact_sheet(stacks, hdrs, **kwargs))
    return path


def _as_uint8(image: np.ndarray) -> np.ndarray:
    if image.dtype == np.uint8:
        return image
    return np.rint(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)


def _tonemap(hdr: np.ndarray) -> np.ndarray:
    tensor = torch.from_numpy(np.ascontiguousarray(hdr, dtype=np.float32)).permute(2, 0, 1)[None]
    display = hdr_preview(tensor)[0].permute(1, 2, 0).numpy()
    return _as_uint8(display)


def _tile(image: np.ndarray, size: int) -> np.ndarray:
    interpolation = cv2.INTER_AREA if image.shape[0] > size else cv2.INTER_NEAREST
    return cv2.resize(image, (size, size), interpolation=interpolation)


def _label(image: np.ndarray, text: str, origin: tuple[int, int]) -> None:
    """Draw white text with a black outline in place."""
    cv2.putText(image, text, origin, _FONT, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(image, text, origin, _FONT, 0.4, (255, 255, 255), 1, cv2.LINE_AA)
