"""Named channel-width presets of the stack generator's sub-networks."""

from __future__ import annotations

from dataclasses import dataclass

from hdrsyn.errors import UsageError


@dataclass(frozen=True)
class NetWidth:
    """Stem width and channel cap of one U-Net (channels double per level up to the cap)."""

    base_channels: int
    max_channels: int


@dataclass(frozen=True)
class GeneratorWidths:
    """Widths of the global, local and refinement U-Nets of one exposure direction."""

    global_net: NetWidth
    local_net: NetWidth
    refine_net: NetWidth


#: ``paper`` matches the authors' networks: global 32..1024 (98.9 M parameters), local 16..256 (6.2 M),
#: refinement 16..512 (10.6 M); 115.7 M per direction, 231.3 M for stop-up + stop-down (paper: 232 M).
#: ``cpu`` (1.5 M per direction) trains on CPU at 128-256 px; ``tiny`` (0.23 M per direction) is for tests.
WIDTH_PRESETS: dict[str, GeneratorWidths] = {
    "paper": GeneratorWidths(NetWidth(32, 1024), NetWidth(16, 256), NetWidth(16, 512)),
    "cpu": GeneratorWidths(NetWidth(8, 64), NetWidth(8, 64), NetWidth(8, 64)),
    "tiny": GeneratorWidths(NetWidth(4, 32), NetWidth(4, 16), NetWidth(4, 16)),
}


def get_widths(width: str | GeneratorWidths) -> GeneratorWidths:
    """Resolve a preset name (``paper``, ``cpu``, ``tiny``) or pass a :class:`GeneratorWidths` through."""
    if isinstance(width, GeneratorWidths):
        return width
    if not isinstance(width, str) or width not in WIDTH_PRESETS:
        raise UsageError(f"unknown width preset width={width!r}; choose from {sorted(WIDTH_PRESETS)}")
    return WIDTH_PRESETS[width]
