"""Memory-layout helpers: let chunked CPU kernels walk a tensor in the order its elements lie in memory.

A stack made from images loaded as ``(H, W, 3)`` arrays is usually a permuted view with the channel
innermost. Elementwise ops between tensors of different memory orders cannot be vectorised, and
reductions over such views make a full copy first; matching the input's order avoids both.
"""

from __future__ import annotations

import torch


def memory_order(tensor: torch.Tensor) -> list[int]:
    """Dimensions of ``tensor`` from outermost to innermost in memory (ties keep their order)."""
    return sorted(range(tensor.dim()), key=lambda d: -tensor.stride(d))


def empty_like_layout(template: torch.Tensor, dtype: torch.dtype | None = None) -> torch.Tensor:
    """An empty dense tensor of ``template``'s shape whose dimensions lie in memory in ``template``'s order."""
    return torch.empty_permuted(
        template.shape, memory_order(template), dtype=dtype or template.dtype, device=template.device
    )


def in_memory_order(tensor: torch.Tensor) -> torch.Tensor:
    """``tensor`` permuted to its memory order: a contiguous view when it is dense (for whole-tensor reductions)."""
    return tensor.permute(memory_order(tensor))
