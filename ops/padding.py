"""Mirror padding that still works on images too small to mirror."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def mirror_pad(image: torch.Tensor, left: int, right: int, top: int, bottom: int) -> torch.Tensor:
    """``image`` ``(B, C, H, W)`` padded by reflection, or by edge replication where a pad is not shorter than
    the side it extends (too short to reflect).

    Example:
        >>> mirror_pad(torch.arange(9.0).view(1, 1, 3, 3), 2, 2, 2, 2)[0, 0, 2]  # the first row, mirrored
        tensor([2., 1., 0., 1., 2., 1., 0.])
        >>> mirror_pad(torch.arange(3.0).view(1, 1, 1, 3), 0, 0, 0, 1)[0, 0, :, 0]  # one row: replicated
        tensor([0., 0.])
    """
    h, w = image.shape[-2:]
    mode = "reflect" if max(top, bottom) < h and max(left, right) < w else "replicate"
    return F.pad(image, (left, right, top, bottom), mode=mode)
