"""Run the stop-up and stop-down directions at the same time on a multi-core CPU (inference only).

The two directions share no tensor until the stack is assembled, and on images up to about 0.6 MP many
of their operations (small feature maps, elementwise passes, Canny) keep only part of the cores busy.
Without autograd the second direction therefore runs in one persistent worker thread while the caller's
thread runs the first: PyTorch releases the GIL inside its kernels, so the two overlap. Each direction
computes exactly what it computes alone (same operations, same intra-op thread count, same denormal
handling), so the outputs are identical.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch
from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

from ops.checks import capturing_graph

T = TypeVar("T")
U = TypeVar("U")

#: Most pixels at which the directions run concurrently. Larger maps keep the cores busy by themselves (1 MP:
#: 1.04x faster), while the second direction's activations would stay alive beside the first's (+0.3 GB).
CONCURRENT_MAX_PIXELS = 768 * 768

_WORKER_NAME = "hdrsyn-direction"
_worker: tuple[int, ThreadPoolExecutor] | None = None  # (pid that created it, executor): a forked child makes its own


def _executor() -> ThreadPoolExecutor:
    global _worker
    if _worker is None or _worker[0] != os.getpid():
        _worker = (os.getpid(), ThreadPoolExecutor(max_workers=1, thread_name_prefix=_WORKER_NAME))
    return _worker[1]


def flushing_denormals() -> bool:
    """Whether this thread treats subnormal floats as zero (:func:`torch.set_flush_denormal`); a probe,
    since PyTorch has no getter."""
    return bool((torch.full((1,), 1e-40) * 1.0).item() == 0.0)


def concurrent_directions_apply(x: torch.Tensor) -> bool:
    """Whether the directions may run concurrently on ``x``: a CPU tensor of at most
    :data:`CONCURRENT_MAX_PIXELS`, more than one intra-op thread, no autograd, no autocast, and no
    tracing, compiling, ONNX export or dispatch mode (FLOP counters are thread-local and would miss the
    worker's operations)."""
    return (
        x.device.type == "cpu"
        and x.shape[-2] * x.shape[-1] <= CONCURRENT_MAX_PIXELS
        and torch.get_num_threads() > 1
        and not torch.is_grad_enabled()
        and not torch.is_autocast_enabled("cpu")
        and not capturing_graph()
        and not _get_current_dispatch_mode_stack()
    )


def run_both(first: Callable[[], T], second: Callable[[], U], x: torch.Tensor) -> tuple[T, U]:
    """``(first(), second())``, the second in a worker thread when :func:`concurrent_directions_apply` to
    ``x``; that thread gets the caller's inference mode, intra-op thread count and denormal flushing.

    Example:
        >>> x = torch.rand(1, 3, 64, 64)
        >>> with torch.no_grad():
        ...     a, b = run_both(lambda: (x * 2).sum(), lambda: (x + 1).sum(), x)
        >>> bool(a == (x * 2).sum() and b == (x + 1).sum())
        True
    """
    if not concurrent_directions_apply(x) or threading.current_thread().name.startswith(_WORKER_NAME):
        return first(), second()  # (in the worker itself a submit would wait for its own task)
    threads, inference, flush = torch.get_num_threads(), torch.is_inference_mode_enabled(), flushing_denormals()

    def in_worker() -> U:
        torch.set_num_threads(threads)
        torch.set_flush_denormal(flush)
        with torch.inference_mode(inference), torch.no_grad():
            return second()

    pending = _executor().submit(in_worker)
    try:
        result = first()
    finally:
        other = pending.result()  # wait for the worker even when ``first`` failed
    return result, other
