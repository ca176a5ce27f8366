"""Compiled CPU kernels of the HDR synthesis op (``ops/native.c``), built on first use with the system C compiler.

The merge and the level histograms are each one pass over the stack in C on ``torch.get_num_threads()``
OpenMP threads, those of the OpenMP runtime torch itself loaded (see ``native.c``); on a CPU they take
about half the time of the PyTorch path, which stays the reference and runs everywhere else (other
devices, float16 / bfloat16, stacks whose exposure planes are not dense).

The library is compiled once per source and compiler into ``$HDRSYN_CACHE_DIR`` (default
``~/.cache/hdrsyn``) with ``$CC`` (default ``cc``), with OpenMP, or without it (one thread) when the
compiler has none. A cached library that does not load (truncated, corrupt) is rebuilt. Without a
compiler, or when the build fails, one warning says why and the PyTorch path is used.
``HDRSYN_NATIVE=0`` turns the kernels off.
"""

from __future__ import annotations

import ctypes
import functools
import hashlib
import os
import platform
import subprocess
import tempfile
import warnings
from pathlib import Path

import torch

SOURCE = Path(__file__).with_name("native.c")
FLAGS = ("-O3", "-std=c11", "-ffp-contract=off", "-fPIC", "-shared")
OPENMP = "-fopenmp"
MIN_ELEMENTS_PER_THREAD = 1 << 15
_TYPES = {torch.float32: "float32", torch.float64: "float64", torch.uint8: "uint8"}


class NativeBuildError(RuntimeError):
    """The C kernels could not be compiled or loaded."""


def cache_dir() -> Path:
    """Where built libraries are kept: ``$HDRSYN_CACHE_DIR``, else ``$XDG_CACHE_HOME/hdrsyn`` or ``~/.cache/hdrsyn``."""
    if os.environ.get("HDRSYN_CACHE_DIR"):
        return Path(os.environ["HDRSYN_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "hdrsyn"


def build(
    compiler: str | None = None, directory: Path | None = None, openmp: bool = True, rebuild: bool = False
) -> Path:
    """Compile ``native.c`` (once per source, compiler, flags and machine) and return the library's path.

    The library is written under a temporary name and renamed, so concurrent processes (DDP ranks)
    never load a half-written file; ``rebuild`` replaces a cached one. Raises :class:`NativeBuildError`
    naming the compiler on failure.
    """
    compiler = compiler or os.environ.get("CC") or "cc"
    directory = directory or cache_dir()
    flags = (*FLAGS, OPENMP) if openmp else FLAGS
    source = SOURCE.read_bytes()
    key = hashlib.sha256(b"\0".join([source, compiler.encode(), " ".join(flags).encode(), platform.machine().encode()]))
    target = directory / f"hdrsyn_native_{key.hexdigest()[:16]}.so"
    if target.exists() and not rebuild:
        return target
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=directory) as scratch:
            partial = Path(scratch) / target.name
            result = subprocess.run(
                [compiler, *flags, str(SOURCE), "-o", str(partial)], capture_output=True, text=True, check=False
            )
            if result.returncode != 0:
                raise NativeBuildError(f"{compiler} failed on {SOURCE}:\n{result.stderr.strip()}")
            os.replace(partial, target)
    except OSError as error:
        raise NativeBuildError(f"cannot build {target} with {compiler!r}: {error}") from error
    return target


def _declare(library: ctypes.CDLL) -> ctypes.CDLL:
    """Argument types of the kernels (see ``native.c``)."""
    i64, i32, ptr = ctypes.c_int64, ctypes.c_int, ctypes.c_void_p
    head = [ptr, i64, i64, i64, i32, i32, i64, i32, i32]  # data, B, strides, N, C, pixels, channel_last, threads
    for name, real in (("float32", ctypes.c_float), ("float64", ctypes.c_double)):
        tables = [ptr, ptr, i32, ptr, ptr, real, i32]  # offsets, slopes, levels, fallbacks, min weight, detach
        getattr(library, f"hdrsyn_merge_{name}").argtypes = [*head, *tables, ptr, ptr, i64, i64]
    library.hdrsyn_merge_uint8.argtypes = [*head, ptr, ptr, ptr, ptr, ctypes.c_float, ptr]
    for name in _TYPES.values():
        getattr(library, f"hdrsyn_histogram_{name}").argtypes = [*head, i32, ptr]
    return library


def _open(openmp: bool) -> ctypes.CDLL:
    """Build (or reuse) and load the library; a cached file that does not load (truncated, corrupt) is rebuilt."""
    try:
        return ctypes.CDLL(str(build(openmp=openmp)))
    except OSError:
        return ctypes.CDLL(str(build(openmp=openmp, rebuild=True)))


@functools.cache
def _load() -> ctypes.CDLL | None:
    try:
        try:
            library = _open(openmp=True)
        except NativeBuildError as error:
            library = _open(openmp=False)
            warnings.warn(f"HDR synthesis: CPU kernels built without OpenMP (one thread): {error}", stacklevel=3)
        return _declare(library)
    except (NativeBuildError, OSError, AttributeError) as error:
        warnings.warn(
            f"HDR synthesis: compiled CPU kernels unavailable, using the PyTorch path (about 2x slower on CPU): "
            f"{error}",
            RuntimeWarning,
            stacklevel=3,
        )
        return None


def library() -> ctypes.CDLL | None:
    """The loaded kernels, or None when ``HDRSYN_NATIVE=0`` or they cannot be built (warned once)."""
    return None if os.environ.get("HDRSYN_NATIVE", "1") == "0" else _load()


def _call(kernel: ctypes._CFuncPtr, flat: torch.Tensor, total: int, *tail: object) -> None:
    """``kernel`` on a ``(B, N, C, P)`` stack of ``total`` elements of work, on the intra-op threads it is worth."""
    b, n, c, p = flat.shape
    threads = max(1, min(torch.get_num_threads(), total // MIN_ELEMENTS_PER_THREAD))
    head = (flat.data_ptr(), b, flat.stride(0), flat.stride(1), n, c, p, int(plane_layout(flat)), threads)
    if kernel(*head, *tail):
        raise MemoryError("HDR synthesis: a native kernel could not allocate its scratch memory")


def plane_layout(flat: torch.Tensor) -> bool | None:
    """For ``(B, N, C, P)``: True if every ``(C, P)`` plane is dense channel-last, False if channel-first, else None.

    A plane of one channel or one pixel has a single order (element ``e`` is channel ``e // P``
    either way): it counts as channel-first, so equal layouts compare equal whatever the strides.
    """
    _, _, c, p = flat.shape
    if c == 1 or p == 1:
        return False if (p == 1 or flat.stride(3) == 1) and (c == 1 or flat.stride(2) == 1) else None
    if flat.stride(2) == 1 and flat.stride(3) == c:
        return True
    if flat.stride(3) == 1 and flat.stride(2) == p:
        return False
    return None


def usable(flat: torch.Tensor) -> bool:
    """Whether the kernels take this ``(B, N, C, P)`` stack: CPU, float32 / float64 / uint8, dense planes."""
    return (
        flat.device.type == "cpu"
        and flat.dtype in _TYPES
        and flat.numel() > 0
        and plane_layout(flat) is not None
        and library() is not None
    )


def merge(
    flat: torch.Tensor,
    offsets: torch.Tensor,
    slopes: torch.Tensor,
    shortest: torch.Tensor,
    longest: torch.Tensor,
    min_weight: float,
    detach_weights: bool,
    factor: torch.Tensor | None,
) -> torch.Tensor:
    """Log radiance ``(B, C, P)`` of a ``(B, N, C, P)`` stack the kernels take (see :func:`usable`).

    Float stacks take the line tables of ``ops.merge._level_tables`` and, when ``factor`` (a dense
    tensor in the stack's memory order) is given, fill it with ``d ln E / d Z_j``; uint8 stacks take
    the knot tables of ``ops.merge._knot_tables``. ``shortest`` / ``longest`` are the ``(B,)``
    fallback exposures.
    """
    b, n, c, p = flat.shape
    merged = torch.empty_permuted((b, c, p), (0, 2, 1) if plane_layout(flat) else (0, 1, 2), dtype=offsets.dtype)
    ends = shortest.to(torch.int64).contiguous(), longest.to(torch.int64).contiguous()
    tables = offsets.contiguous(), slopes.contiguous()
    fallback = (ends[0].data_ptr(), ends[1].data_ptr())
    kernel = getattr(library(), f"hdrsyn_merge_{_TYPES[flat.dtype]}")
    if flat.dtype == torch.uint8:
        tail = (tables[0].data_ptr(), tables[1].data_ptr(), *fallback, min_weight, merged.data_ptr())
    else:
        if factor is not None and (plane_layout(factor) != plane_layout(flat) or factor.dtype != flat.dtype):
            raise ValueError("factor must have the stack's dtype and dense planes in the stack's order")
        out = (None, 0, 0) if factor is None else (factor.data_ptr(), factor.stride(0), factor.stride(1))
        tail = (tables[0].data_ptr(), tables[1].data_ptr(), offsets.shape[-1], *fallback, min_weight)
        tail = (*tail, int(detach_weights), merged.data_ptr(), *out)
    _call(kernel, flat, b * c * p, *tail)
    return merged


def histograms(flat: torch.Tensor, n_levels: int) -> torch.Tensor:
    """``(B, N, C, n_levels)`` counts of the rounded levels of a ``(B, N, C, P)`` stack the kernels take."""
    b, n, c, p = flat.shape
    counts = torch.zeros(b, n, c, n_levels, dtype=torch.int64)
    kernel = getattr(library(), f"hdrsyn_histogram_{_TYPES[flat.dtype]}")
    _call(kernel, flat, b * n * c * p, n_levels, counts.data_ptr())
    return counts
