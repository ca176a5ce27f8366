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


def clipped_mask(ldr: torch.Tensor, low: float = 0.9, high: float = 0.98) -> torch.Tensor:
    """Soft mask ``(B, 1, H, W)`` of the pixels an 8-bit input ``ldr`` ``(B, 3, H, W)`` in [0, 1] clipped:
    0 where its brightest channel is below ``low``, 1 from ``high`` on, linear between.

    Example:
        >>> import torch
        >>> ldr = torch.tensor([0.5, 0.94, 1.0]).view(1, 1, 1, 3).expand(1, 3, 1, 3)
        >>> [round(v, 2) for v in clipped_mask(ldr).flatten().tolist()]
        [0.0, 0.5, 1.0]
    """
    check_image(ldr, "ldr")
    if not 0 <= low < high <= 1:
        raise ValueError(f"need 0 <= low < high <= 1, got low={low}, high={high}")
    return ((ldr.amax(dim=1, keepdim=True) - low) / (high - low)).clamp(0.0, 1.0)


@full_precision
def clipped_hdr_loss(pred_hdr: torch.Tensor, target_hdr: torch.Tensor, mask: torch.Tensor,
                     eps: float = 1e-4) -> torch.Tensor:
    """Mean absolute log2 radiance error, in stops, inside the input's clipped region ``mask``.

    ``sum_i m_i |log2(H_hat_i + eps) - log2(H_i + eps)| / sum_i m_i`` over pixels and channels: the
    radiance a single-image method must invent, weighed in the HDR domain, where the mu-law term of
    Eq. 7 averages it with every other pixel (a few percent of an image). Our addition to Eq. 7, used
    by :class:`~lightning_modules.diffhdrsyn.loss.JointObjective` with ``lambda_clipped``; 0 without
    clipped pixels. Computed in float32 inside autocast.

    Example:
        >>> import torch
        >>> hdr = torch.full((1, 3, 2, 2), 4.0)
        >>> mask = torch.tensor([[1.0, 0.0], [0.0, 0.0]]).view(1, 1, 2, 2)
        >>> pred = hdr.clone(); pred[..., 0, 0] = 1.0; pred[..., 1, 1] = 100.0  # only the masked pixel counts
        >>> round(float(clipped_hdr_loss(pred, hdr, mask, eps=0.0)), 4)  # two stops too dim
        2.0
    """
    check_image(pred_hdr, "pred_hdr")
    check_image(target_hdr, "target_hdr")
    check_same_shape(pred_hdr, target_hdr)
    batch, _, height, width = pred_hdr.shape
    if tuple(mask.shape) != (batch, 1, height, width):
        raise ValueError(f"mask must be (B, 1, H, W) = {(batch, 1, height, width)} to match the images, "
                         f"got {tuple(mask.shape)}")
    error = (torch.log2(pred_hdr.clamp_min(0) + eps) - torch.log2(target_hdr.clamp_min(0) + eps)).abs()
    weight = mask.expand_as(error)
    return (weight * error).sum() / weight.sum().clamp_min(1e-6)


class ClippedHDRLoss(nn.Module):
    """Module form of :func:`clipped_hdr_loss`, the mask made from the input by :func:`clipped_mask`.

    Example:
        >>> import torch
        >>> ldr = torch.ones(1, 3, 2, 2); hdr = torch.full((1, 3, 2, 2), 8.0)
        >>> float(ClippedHDRLoss(eps=0.0)(hdr / 2, hdr, ldr))  # one stop too dim, all clipped
        1.0
    """

    def __init__(self, low: float = 0.9, high: float = 0.98, eps: float = 1e-4) -> None:
        super().__init__()
        self.low, self.high, self.eps = low, high, eps

    def forward(self, pred_hdr: torch.Tensor, target_hdr: torch.Tensor, ldr: torch.Tensor) -> torch.Tensor:
        return clipped_hdr_loss(pred_hdr, target_hdr, clipped_mask(ldr, self.low, self.high), self.eps)
