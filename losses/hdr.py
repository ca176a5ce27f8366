"""Tone-mapped HDR loss (paper Eq. 7, middle term)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ops.checks import check_image, check_same_shape
from ops.precision import full_precision
from ops.tonemap import mu_law


@full_precision
def hdr_loss(pred_hdr: torch.Tensor, target_hdr: torch.Tensor, mu: float = 5000.0) -> torch.Tensor:
    """L1 between mu-law tone-mapped HDR images (Eq. 7 middle term).

    ``mean |T(H_hat) - T(H)|`` with ``T(H) = log(1 + mu H) / log(1 + mu)``: the paper's
    ``(1/N) sum_i |log((1 + mu H_hat_i) / (1 + mu H_i))|`` divided by the constant ``log(1 + mu)``.
    Inputs should be normalised to about [0, 1] (negative values are clamped to 0). The paper uses
    ``mu = 5000``, the authors' code ``mu = 100``. Computed in float32 inside autocast.

    Example:
        >>> import torch
        >>> hdr = torch.full((1, 3, 4, 4), 0.5)
        >>> float(hdr_loss(hdr, hdr)), round(float(hdr_loss(2 * hdr, hdr)), 4)  # one stop: ~ln 2 / ln(1 + mu)
        (0.0, 0.0814)
    """
    check_image(pred_hdr, "pred_hdr")
    check_image(target_hdr, "target_hdr")
    check_same_shape(pred_hdr, target_hdr)
    return F.l1_loss(mu_law(pred_hdr, mu), mu_law(target_hdr, mu))


class HDRLoss(nn.Module):
    """Module form of :func:`hdr_loss`.

    Example:
        >>> import torch
        >>> hdr = torch.full((1, 3, 4, 4), 0.5)
        >>> round(float(HDRLoss(mu=100)(2 * hdr, hdr)), 4)  # the authors' mu: a larger loss for the same error
        0.1481
    """

    def __init__(self, mu: float = 5000.0) -> None:
        super().__init__()
        self.mu = mu

    def forward(self, pred_hdr: torch.Tensor, target_hdr: torch.Tensor) -> torch.Tensor:
        return hdr_loss(pred_hdr, target_hdr, self.mu)
