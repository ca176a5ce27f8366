"""Memory figures shared by the benches: peak resident memory of this process, peak GPU memory, and a
measurement run in a fresh Python process (so that its peak is its own).

``ru_maxrss`` is the peak resident set size of the process (weights, activations, allocator caches and the
Python/torch runtime itself); tracemalloc does not see torch's allocations. A process's peak never goes
down, hence one configuration per process: :func:`in_fresh_process`.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import torch

#: The folder that holds the ``bench`` package: put on the child's ``PYTHONPATH`` (after what is there
#: already), so that ``python -m bench...`` also starts from another working directory.
ROOT = Path(__file__).resolve().parents[1]


def peak_rss_bytes() -> int:
    """Peak resident set size of this process so far, in bytes (Linux reports ``ru_maxrss`` in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_memory(device: str) -> None:
    """Start a new peak of allocated GPU memory (nothing on a CPU)."""
    if device == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def peak_memory_gb(device: str) -> float | None:
    """Peak allocated device memory since :func:`reset_peak_memory` (None on CPU: not tracked per check)."""
    return torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None


def in_fresh_process(module: str, *args: str) -> dict:
    """Run ``python -m module args`` in a new interpreter and return its last line of output, read as JSON.

    A child that fails raises :class:`subprocess.CalledProcessError` (its ``stderr`` kept).
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (env.get("PYTHONPATH"), str(ROOT)) if p)
    done = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, env=env,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])
