"""Keep numerically sensitive code in float32 inside mixed precision (``torch.autocast``, ``bf16-mixed``).

Under autocast, convolutions and matrix products run in bfloat16 / float16 and hand their low-precision
results on. The HDR layer (histograms, CRF solve, merge), Canny and the losses built on histograms,
logarithms and feature distances need at least float32: :func:`full_precision` runs them with autocast
switched off and their half-precision tensor arguments cast to float32. Outside autocast it changes
nothing (an explicit float16 / bfloat16 call still computes in that type).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch

P = ParamSpec("P")
R = TypeVar("R")
HALF_TYPES = (torch.float16, torch.bfloat16)


def _autocast_devices(*values: object) -> list[str]:
    """Device types of the tensors among ``values`` on which autocast is enabled now."""
    types = {value.device.type for value in values if isinstance(value, torch.Tensor)}
    return sorted(t for t in types if torch.amp.is_autocast_available(t) and torch.is_autocast_enabled(t))


def _upcast(value: object) -> object:
    if isinstance(value, torch.Tensor) and value.dtype in HALF_TYPES:
        return value.float()
    return value


def full_precision(function: Callable[P, R]) -> Callable[P, R]:
    """Decorator: inside autocast, call ``function`` with autocast off and half-precision tensors as float32.

    Only top-level tensor arguments (positional or keyword) are cast; the cast is differentiable, so
    gradients return to the caller's tensors in their own type.
    """

    @functools.wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        devices = _autocast_devices(*args, *kwargs.values())
        if not devices:
            return function(*args, **kwargs)
        with contextlib.ExitStack() as stack:
            for device in devices:
                stack.enter_context(torch.autocast(device, enabled=False))
            args = tuple(_upcast(a) for a in args)
            kwargs = {k: _upcast(v) for k, v in kwargs.items()}
            return function(*args, **kwargs)

    return wrapper
