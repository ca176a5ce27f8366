"""Viewing geometry of the paper's HDR-VDP-2 evaluation (24-inch display seen from 0.5 m)."""

from __future__ import annotations

import math

#: Display diagonal stated in the paper (inches).
PAPER_DIAGONAL_IN = 24.0
#: Viewing distance stated in the paper (metres).
PAPER_DISTANCE_M = 0.5
#: Display resolution: not stated in the paper; HDR-VDP-2's own example for a 24-inch display at 0.5 m.
PAPER_RESOLUTION = (1920, 1200)


def pixels_per_degree(
    diagonal_in: float = PAPER_DIAGONAL_IN,
    resolution: tuple[int, int] = PAPER_RESOLUTION,
    distance_m: float = PAPER_DISTANCE_M,
) -> float:
    """Angular resolution as HDR-VDP-2's ``hdrvdp_pix_per_deg(diagonal_in, [width height], distance_m)``.

    Square pixels; the display height in degrees, ``2 atan(h / 2d)``, divided into the vertical
    resolution (the average over the screen, not the centre value). Paper geometry: ≈ 33.5 ppd.
    """
    width, height = resolution
    if diagonal_in <= 0 or distance_m <= 0 or width <= 0 or height <= 0:
        raise ValueError(f"display parameters must be positive, got {diagonal_in}, {resolution}, {distance_m}")
    aspect = width / height
    height_m = diagonal_in * 0.0254 / math.sqrt(1 + aspect**2)
    height_deg = 2 * math.degrees(math.atan(0.5 * height_m / distance_m))
    return height / height_deg
