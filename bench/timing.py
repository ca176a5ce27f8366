"""Timing shared by the benches: best-of-N wall times, and a Lightning callback that times training steps.

Every bench that times something uses these, so that "best of 7" or "a step" means the same in each.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping

import pytorch_lightning as pl
import torch

SETTLE_SECONDS = 0.05
"""Pause before a settled timing: thread pools (OpenMP's, OpenCV's) spin for a while after a parallel
region and would otherwise take cores from the next function timed."""


def synchronize(device: str | torch.device) -> None:
    """Wait for the device's queued work (timings must not end before the kernels do); nothing on a CPU."""
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def timed(run: Callable[[], object], repeats: int = 1, settle_s: float = 0.0) -> float:
    """Seconds per call of ``run``: ``repeats`` calls back to back, after a pause of ``settle_s`` seconds.

    Example:
        >>> 0.0 <= timed(lambda: None, repeats=3) < 0.1
        True
    """
    if settle_s:
        time.sleep(settle_s)
    start = time.perf_counter()
    for _ in range(repeats):
        run()
    return (time.perf_counter() - start) / repeats


def best_of(run: Callable[[], object], repeats: int, settle_s: float = 0.0) -> float:
    """Fastest of ``repeats`` timed calls of ``run`` (no warm-up call), in seconds."""
    return min(timed(run, settle_s=settle_s) for _ in range(repeats))


def best_of_each(fns: Mapping[str, Callable[[], object]], repeats: int,
                 settle_s: float = SETTLE_SECONDS) -> dict[str, float]:
    """Fastest of ``repeats`` timed calls of each function after one warm-up call, in seconds.

    The functions take turns, so a slow spell of the machine hits all of them alike.

    Example:
        >>> sorted(best_of_each({"a": lambda: None, "b": lambda: None}, 2, settle_s=0))
        ['a', 'b']
    """
    best = dict.fromkeys(fns, float("inf"))
    for fn in fns.values():
        fn()
    for _ in range(repeats):
        for name, fn in fns.items():
            best[name] = min(best[name], timed(fn, settle_s=settle_s))
    return best


class StepTimer(pl.Callback):
    """Times every training step of a ``Trainer.fit``: when each batch started and ended, and its loss.

    ``waits``: the time between the end of one step and the start of the next (waiting for the batch);
    ``steps``: each step's own duration. With ``warmup``, :attr:`warmup_s` is the time from the start of
    training to the end of step ``warmup`` and :attr:`timed_ends` the ends of the steps after it; with
    ``budget_s``, training stops at the first step after the warm-up that ends past the budget. On a GPU
    (``device``), the queued kernels are waited for at the start of training and at the end of each step.
    """

    def __init__(self, device: str = "cpu", warmup: int = 0, budget_s: float = math.inf) -> None:
        self.device, self.warmup, self.budget_s = device, warmup, budget_s
        self.train_start = time.perf_counter()
        self.starts: list[float] = []
        self.ends: list[float] = []
        self.losses: list[float] = []

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        synchronize(self.device)
        self.train_start = time.perf_counter()

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:  # noqa: ANN001
        self.starts.append(time.perf_counter())

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:  # noqa: ANN001
        synchronize(self.device)
        now = time.perf_counter()
        self.ends.append(now)
        if isinstance(outputs, Mapping) and "loss" in outputs:
            self.losses.append(float(outputs["loss"]))
        if now - self.train_start > self.budget_s and len(self.ends) > self.warmup:
            trainer.should_stop = True

    @property
    def waits(self) -> list[float]:
        """Seconds between the end of each step and the start of the next."""
        return [start - end for start, end in zip(self.starts[1:], self.ends)]

    @property
    def steps(self) -> list[float]:
        """Seconds of each step."""
        return [end - start for start, end in zip(self.starts, self.ends)]

    @property
    def warmup_s(self) -> float:
        """Seconds from the start of training to the end of the warm-up steps (NaN before they end)."""
        return self.ends[self.warmup - 1] - self.train_start if len(self.ends) >= self.warmup > 0 else math.nan

    @property
    def timed_from(self) -> float:
        """When the timed steps began: the end of the warm-up (the start of training without one)."""
        return self.ends[self.warmup - 1] if len(self.ends) >= self.warmup > 0 else self.train_start

    @property
    def timed_ends(self) -> list[float]:
        """The ends of the steps after the warm-up."""
        return self.ends[self.warmup :]
