"""ExpandNet's training loss and target (Marnerides et al. 2018, Eq. 2)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ops.checks import check_same_shape
from ops.precision import full_precision


def max_normalize(hdr: torch.Tensor) -> torch.Tensor:
    """``hdr / max(hdr)`` per image: the [0, 1] relative HDR that ExpandNet is trained to output."""
    return hdr / hdr.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-12)


@full_precision
def expandnet_loss(pred: torch.Tensor, target: torch.Tensor, lambda_cosine: float = 5.0) -> torch.Tensor:
    """``L = mean |pred - target| + lambda (1 - mean_i cos(pred_i, target_i))`` over pixels ``i`` (RGB vectors).

    Marnerides et al. 2018, Eq. 2 (``lambda = 5``); both images ``(B, 3, H, W)``.
    """
    check_same_shape(pred, target)
    cosine = F.cosine_similarity(pred, target, dim=1, eps=1e-8)
    return F.l1_loss(pred, target) + lambda_cosine * (1 - cosine).mean()
