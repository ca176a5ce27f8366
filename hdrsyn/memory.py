"""How much memory reconstructing one photo takes, and how to run it within a budget (``--max-memory``).

:func:`plan_reconstruction` estimates the peak working memory of :func:`hdrsyn.inference.reconstruct_image`
(beyond the Python/torch runtime and the weights) for a photo's size and the options, and picks what the
user left open:

* the network's activations, measured once per network by :func:`network_bytes` (two small probe runs
  whose live tensors are counted): the packaged model holds about 0.6-0.8 kB per pixel of its input;
* the full-resolution work: whole, about three float exposure stacks (``36 N`` bytes per pixel for ``N``
  exposures) and the merge and preview temporaries; in row strips, the 8-bit stack, the radiance, the
  8-bit preview and one strip (``3 N + 51`` bytes per pixel and :data:`STRIP_BYTES` per strip).

With the work size left open (``work_size=None``) the photo runs whole when that fits, else the network
runs at the largest work size up to :data:`AUTO_WORK_SIZE` that fits, the full-resolution stack in strips
if it has to; a radiance model runs in the largest tiles up to :data:`AUTO_TILE` that fit. Options that
cannot fit raise :class:`MemoryBudgetError` naming the flag to change.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

from hdrsyn.errors import UsageError
from hdrsyn.model_registry import Reconstructor

GB = 1e9
#: Default budget of one reconstruction's working memory: with the runtime and weights (about 0.5 GB)
#: a process stays below 4 GB.
DEFAULT_MAX_MEMORY = 3.0 * GB
#: Largest work size (longer side) picked automatically: the packaged model's network then takes about
#: 7 s on 2 CPU threads, and smaller work sizes score close to full size (docs/tools.md, ``--work-size``).
AUTO_WORK_SIZE = 1024
#: Smallest work size tried automatically before a photo is refused.
MIN_AUTO_WORK_SIZE = 128
#: Largest tile picked automatically for a radiance model (a multiple of its size multiple).
AUTO_TILE = 1024
#: Bytes of float exposure stack in one strip of the full-resolution work (64 MiB).
STRIP_BYTES = 1 << 26
#: Full-resolution bytes per pixel beyond the float stacks: input, radiance, merge, preview and writes.
WHOLE_EXTRA, STRIP_EXTRA = 84, 51
#: Live copies of a strip's float stack (analytic stack, correction, sum, clamp).
STRIP_COPIES = 4
#: Side lengths (before rounding up to the size multiple) of the two probe runs of :func:`network_bytes`.
PROBE_SIDES = (64, 128)


@dataclass(frozen=True)
class Plan:
    """How to run one photo: the network's ``work_size`` (None: full resolution), its ``tile`` (None:
    whole), ``strip_rows`` of the full-resolution work (None: whole) and the estimated ``bytes``."""

    work_size: int | None
    tile: int | None
    strip_rows: int | None
    bytes: float

    def describe(self) -> str:
        """E.g. ``"--work-size 1024, full-resolution stack in 31 strips, about 2.4 GB"``."""
        parts = [f"--work-size {self.work_size}" if self.work_size else "full resolution"]
        parts += [f"--tile {self.tile}"] if self.tile else []
        parts += [f"strips of {self.strip_rows} rows"] if self.strip_rows else []
        return ", ".join(parts) + f", about {self.bytes / GB:.1f} GB"


class MemoryBudgetError(UsageError):
    """The options given cannot reconstruct a photo within the memory budget; the message names the flag."""


class _LiveBytes(TorchDispatchMode):
    """Count the bytes of the tensors that ops create while they are alive, and their peak."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: dict[int, int] = {}  # storage address -> bytes
        self.users: dict[int, int] = {}  # storage address -> live tensors on it
        self.current = self.peak = 0

    def _release(self, key: int) -> None:
        self.users[key] -= 1
        if not self.users[key]:
            del self.users[key]
            self.current -= self.sizes.pop(key)

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        out = func(*args, **(kwargs or {}))
        for tensor in tree_flatten(out)[0]:
            if isinstance(tensor, torch.Tensor):
                storage = tensor.untyped_storage()
                key = storage.data_ptr()
                if key not in self.sizes:
                    self.sizes[key], self.users[key] = storage.nbytes(), 0
                    self.current += storage.nbytes()
                    self.peak = max(self.peak, self.current)
                self.users[key] += 1
                weakref.finalize(tensor, self._release, key)
        return out


_NETWORK_COST: weakref.WeakKeyDictionary[nn.Module, tuple[float, float]] = weakref.WeakKeyDictionary()


def peak_bytes(network: nn.Module, height: int, width: int, device: torch.device) -> int:
    """Peak bytes of the tensors alive during ``network`` on a ``(1, 3, height, width)`` input (itself counted)."""
    with torch.inference_mode(), _LiveBytes() as live:
        network(torch.rand(1, 3, height, width, device=device))
    return live.peak


def network_bytes(model: Reconstructor) -> Callable[[float], float]:
    """Bytes of ``model.network``'s run on ``pixels`` input pixels: a line through two probe runs (cached).

    The line overestimates large inputs a little (the probes' margins weigh more), which is the safe side.
    """
    if model.network not in _NETWORK_COST:
        device = next(model.network.parameters(), torch.empty(0)).device
        sides = [math.ceil(side / model.size_multiple) * model.size_multiple for side in PROBE_SIDES]
        if sides[0] == sides[1]:
            sides[1] *= 2
        small, large = (peak_bytes(model.network, side, side, device) for side in sides)
        slope = max(0.0, (large - small) / (sides[1] ** 2 - sides[0] ** 2))
        _NETWORK_COST[model.network] = (small - slope * sides[0] ** 2, slope)
    intercept, slope = _NETWORK_COST[model.network]
    return lambda pixels: max(0.0, intercept) + slope * pixels


def padded(size: int, multiple: int) -> int:
    """``size`` rounded up to a multiple of ``multiple``."""
    return -(-size // multiple) * multiple


def work_shape(height: int, width: int, work_size: int | None) -> tuple[int, int]:
    """The network's input size for a photo: downscaled to ``work_size`` on its longer side, if smaller.

    >>> work_shape(4000, 6000, 1024)
    (683, 1024)
    """
    if work_size is None or max(height, width) <= work_size:
        return height, width
    scale = work_size / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def default_strip_rows(model: Reconstructor, width: int) -> int:
    """Rows per strip: :data:`STRIP_BYTES` of float stack.

    >>> from hdrsyn.model_registry import Reconstructor
    >>> default_strip_rows(Reconstructor(nn.Identity(), "stack", evs=tuple(range(-3, 4))), 6000)
    133
    """
    return max(1, STRIP_BYTES // (4 * 3 * len(model.evs) * width))


def estimate_bytes(
    model: Reconstructor, height: int, width: int, work_size: int | None, tile: int | None, strip_rows: int | None
) -> float:
    """Estimated peak working memory of :func:`hdrsyn.inference.reconstruct_image` with these options."""
    pixels = height * width
    channels = 3 * len(model.evs) if model.output == "stack" else 3
    guided = model.output == "stack" and work_shape(height, width, work_size) != (height, width)
    net_h, net_w = work_shape(height, width, work_size) if guided else (height, width)
    net_pixels = padded(net_h, model.size_multiple) * padded(net_w, model.size_multiple)
    cost = network_bytes(model)
    if tile is None or net_pixels <= tile * tile:
        network = cost(net_pixels)
    else:  # one tile's activations, the padded input, the blended output and its weights
        network = cost(tile * tile) + (12 + 4 + 8 * channels) * net_pixels
    if model.output == "radiance":
        return network + 84 * pixels
    full_output = 0 if guided else 4 * channels * pixels  # a full-resolution network output stays alive
    if strip_rows is None:
        return network + (3 * 4 * channels + WHOLE_EXTRA) * pixels
    strip = STRIP_COPIES * 4 * channels * strip_rows * width
    return network + full_output + (channels + STRIP_EXTRA) * pixels + strip


def plan_reconstruction(
    model: Reconstructor,
    height: int,
    width: int,
    tile: int | None = None,
    work_size: int | None = None,
    max_memory: float = DEFAULT_MAX_MEMORY,
    overlap: int = 128,
) -> Plan:
    """How to reconstruct a ``height`` x ``width`` photo within ``max_memory`` bytes (see the module doc).

    ``tile`` and ``work_size`` given are kept (a work size at least the photo's longer side means full
    resolution); raises :class:`MemoryBudgetError` naming the flag to change when they cannot fit.
    """
    forced = work_size is not None
    if model.output == "radiance":
        return _plan_radiance(model, height, width, tile, max_memory, overlap)
    sizes = [work_size] if forced else [None, *_auto_work_sizes(height, width)]
    for size in sizes:
        plan = _fitting_plan(model, height, width, size, tile, max_memory)
        if plan is not None:
            return plan
    rows = min(height, default_strip_rows(model, width))
    need = min(estimate_bytes(model, height, width, size, tile, rows) for size in sizes)
    if forced:
        fallback = _fitting_auto(model, height, width, max_memory)
        advice = f"use --work-size {fallback.work_size}" if fallback else "use a smaller --work-size"
        raise MemoryBudgetError(
            f"a {width}x{height} photo at --work-size {work_size} needs about {need / GB:.1f} GB, more than "
            f"--max-memory {max_memory / GB:g}; {advice} or raise --max-memory"
        )
    raise MemoryBudgetError(
        f"a {width}x{height} photo needs about {need / GB:.1f} GB even at --work-size {MIN_AUTO_WORK_SIZE}, more "
        f"than --max-memory {max_memory / GB:g}; raise --max-memory"
    )


def _auto_work_sizes(height: int, width: int) -> list[int]:
    """Work sizes to try, largest first: :data:`AUTO_WORK_SIZE` (or the photo's side) down to the minimum."""
    top = min(AUTO_WORK_SIZE, max(height, width) - 1)
    return list(range(top, MIN_AUTO_WORK_SIZE - 1, -64)) if top >= MIN_AUTO_WORK_SIZE else []


def _fitting_plan(
    model: Reconstructor, height: int, width: int, work_size: int | None, tile: int | None, max_memory: float
) -> Plan | None:
    """The plan at ``work_size``, whole or in strips, that fits ``max_memory``; None if neither does."""
    if work_size is not None and work_size >= max(height, width):
        work_size = None
    for rows in (None, min(height, default_strip_rows(model, width))):
        need = estimate_bytes(model, height, width, work_size, tile, rows)
        if need <= max_memory:
            return Plan(work_size, tile, rows, need)
    return None


def _fitting_auto(model: Reconstructor, height: int, width: int, max_memory: float) -> Plan | None:
    """The automatic plan without tiles (for the advice of an error), or None."""
    for size in _auto_work_sizes(height, width):
        plan = _fitting_plan(model, height, width, size, None, max_memory)
        if plan is not None:
            return plan
    return None


def _plan_radiance(
    model: Reconstructor, height: int, width: int, tile: int | None, max_memory: float, overlap: int
) -> Plan:
    """A radiance model runs at full resolution: whole, in ``tile``s, or in the largest fitting tiles."""
    multiple = model.size_multiple
    top = AUTO_TILE // multiple * multiple
    tiles = [tile] if tile is not None else [None, *range(top, overlap, -max(multiple, 64))]
    for size in tiles:
        if size is not None and (size % multiple or size <= overlap):
            continue
        need = estimate_bytes(model, height, width, None, size, None)
        if need <= max_memory:
            return Plan(None, size, None, need)
    flag = f"--tile {tile}" if tile is not None else "the smallest automatic tile"
    raise MemoryBudgetError(
        f"a {width}x{height} photo with {flag} needs more than --max-memory {max_memory / GB:g}: "
        f"use a smaller --tile or raise --max-memory"
    )
