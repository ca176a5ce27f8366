"""Shared test fixtures: real bundled data, loaded once per session."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch

from hdrsyn.assets_index import memorial_stack
from hdrsyn.io import read_ldr

os.environ.setdefault("WANDB_MODE", "disabled")  # no W&B account or network in tests (subprocesses inherit it)


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    """Run every test on one intra-op thread.

    The tests use small tensors, where OpenMP hand-offs cost more than they save; on a busy 2-core
    machine two threads made the overfit test 40x slower. Benchmarks (``bench/``) use all threads.
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture()
def this_tree_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Import this tree's modules only: an editable install of another checkout (its ``__editable__`` finder)
    would map a module missing here, e.g. one a class has moved out of, to that checkout's file."""
    finders = [f for f in sys.meta_path if not str(getattr(f, "__module__", "")).startswith("__editable__")]
    monkeypatch.setattr(sys, "meta_path", finders)


@pytest.fixture(scope="session")
def memorial() -> tuple[np.ndarray, np.ndarray]:
    """Debevec's Memorial Church stack as uint8 ``(16, H, W, 3)`` RGB (shortest first) and float32 times."""
    files, times = memorial_stack()
    images = np.stack([np.round(read_ldr(f) * 255).astype(np.uint8) for f in files])
    return images, np.asarray(times, np.float32)
