"""Tensor shape checks that raise ``ValueError`` (the messages are those of kornia's checks they replace), and
whether a graph is being captured (tracing, compiling, ONNX export), where eager-only shortcuts must step aside."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_shape(x: torch.Tensor, shape: Sequence[str]) -> None:
    """Raise ``ValueError`` unless ``x`` has ``len(shape)`` dims and every numeric entry of ``shape`` matches.

    Names (``"B"``, ``"H"``) match any size, digit strings (``"3"``) that size exactly.

    Examples:
        >>> check_shape(torch.zeros(2, 3, 4, 4), ["B", "3", "H", "W"])
        >>> check_shape(torch.zeros(2, 1, 4, 4), ["B", "3", "H", "W"])
        Traceback (most recent call last):
        ...
        ValueError: Shape mismatch at dimension 1: expected 3, got 1.
          Expected shape: ['B', '3', 'H', 'W']
          Actual shape: [2, 1, 4, 4]
    """
    if x.dim() != len(shape):
        raise ValueError(
            f"Shape dimension mismatch: expected {len(shape)} dimensions, got {x.dim()}.\n"
            f"  Expected shape: {list(shape)}\n  Actual shape: {list(x.shape)}"
        )
    for i, (name, size) in enumerate(zip(shape, x.shape)):
        if name.isnumeric() and size != int(name):
            raise ValueError(
                f"Shape mismatch at dimension {i}: expected {int(name)}, got {size}.\n"
                f"  Expected shape: {list(shape)}\n  Actual shape: {list(x.shape)}"
            )


def check_same_shape(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise ``ValueError`` unless ``x`` and ``y`` have the same shape.

    Examples:
        >>> check_same_shape(torch.zeros(1, 3), torch.zeros(1, 4))
        Traceback (most recent call last):
        ...
        ValueError: Shape mismatch: tensors must have the same shape.
          First tensor shape: [1, 3]
          Second tensor shape: [1, 4]
    """
    if x.shape != y.shape:
        raise ValueError(
            "Shape mismatch: tensors must have the same shape.\n"
            f"  First tensor shape: {list(x.shape)}\n  Second tensor shape: {list(y.shape)}"
        )


def check_image(x: object, name: str = "image", allow_uint8: bool = False) -> None:
    """Raise ``TypeError`` unless ``x`` is a floating-point tensor (or uint8 with ``allow_uint8``), and
    ``ValueError`` if it holds no element (an empty batch or a zero-size image); the message names ``name``.

    Examples:
        >>> check_image(torch.zeros(1, 3, 4, 4))
        >>> check_image(torch.zeros(0, 3, 4, 4), "pred")
        Traceback (most recent call last):
        ...
        ValueError: pred is empty (shape [0, 3, 4, 4]): an empty batch or a zero-size image
        >>> check_image(torch.zeros(1, 3, 4, 4, dtype=torch.int64), "pred")
        Traceback (most recent call last):
        ...
        TypeError: pred must be a floating-point tensor, got torch.int64
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if not (x.is_floating_point() or (allow_uint8 and x.dtype == torch.uint8)):
        kinds = "a floating-point or uint8" if allow_uint8 else "a floating-point"
        raise TypeError(f"{name} must be {kinds} tensor, got {x.dtype}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {list(x.shape)}): an empty batch or a zero-size image")


def capturing_graph() -> bool:
    """True while PyTorch traces, compiles or exports to ONNX: code with eager-only shortcuts (OpenCV calls,
    oneDNN-only ops, threads) takes its plain path then.

    Example:
        >>> capturing_graph()
        False
    """
    return torch.jit.is_tracing() or torch.compiler.is_compiling() or torch.onnx.is_in_onnx_export()
