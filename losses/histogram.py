"""Differentiable histogram loss, the ``cnt_l`` term of the global-network loss (paper Eq. 4)."""

from __future__ import annotations

import torch
from torch import nn

from ops.checks import check_image, check_same_shape
from ops.precision import full_precision


@full_precision
def soft_histogram(image: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """Per-channel soft histogram ``(*, C, bins)`` of ``image`` ``(*, C, H, W)`` in [0, 1].

    Triangular (linear-interpolation) kernel: bin ``l`` is centred at ``l / (bins - 1)`` with width
    ``delta = 1 / (bins - 1)``, and a value ``x`` adds ``max(0, 1 - |x - c_l| / delta)`` to bin ``l``, i.e.
    splits its unit mass between the two nearest centres. Counts are divided by the pixel count ``H * W``,
    so each channel sums to 1. For 8-bit values ``k / 255`` and 256 bins this is exactly the hard
    histogram; elsewhere it is piecewise linear in the pixel values, hence differentiable almost
    everywhere. Values are clamped to [0, 1] (no gradient outside). Computed in float32 inside autocast.

    Example:
        >>> import torch
        >>> soft_histogram(torch.tensor([0.0, 0.25, 1.0, 1.0]).view(1, 1, 2, 2), bins=3)  # 0.25: half to bin 0, 1
        tensor([[[0.3750, 0.1250, 0.5000]]])
    """
    if image.dim() < 3:
        raise ValueError(f"image must be (*, C, H, W), got shape {tuple(image.shape)}")
    if not bins >= 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    values = image.clamp(0, 1).flatten(-2)
    position = values * (bins - 1)
    lower = position.detach().floor().clamp(max=bins - 2)
    upper_weight = position - lower
    index = lower.long()
    hist = values.new_zeros(*values.shape[:-1], bins)
    hist = hist.scatter_add(-1, index, 1 - upper_weight).scatter_add(-1, index + 1, upper_weight)
    return hist / values.shape[-1]


def histogram_loss(pred: torch.Tensor, target: torch.Tensor, bins: int = 256) -> torch.Tensor:
    """L1 distance between the normalised soft histograms of ``pred`` and ``target`` (Eq. 4, second term).

    Eq. 4 is ``(1 / (L E)) sum_e sum_l |cnt_l(pred_e) - cnt_l(target_e)|`` with raw pixel counts; we divide
    it by the mean count per level ``N / L`` so that it does not grow with the image size: per image and
    channel ``sum_l |p_l - q_l|`` in [0, 2] with :func:`soft_histogram` ``p, q``, averaged over channels,
    exposures and the batch. It is then of the same order as the pixel L1 it is weighted against.

    Args:
        pred: ``(*, C, H, W)`` images in [0, 1], e.g. ``(B, E, 3, H, W)``.
        target: same shape as ``pred``.
        bins: number of intensity levels ``L``.

    Example:
        >>> import torch
        >>> black, white = torch.zeros(1, 3, 4, 4), torch.ones(1, 3, 4, 4)
        >>> float(histogram_loss(black, white)), float(histogram_loss(black, black))  # disjoint: the maximum, 2
        (2.0, 0.0)
    """
    check_image(pred, "pred")
    check_image(target, "target")
    check_same_shape(pred, target)
    return (soft_histogram(pred, bins) - soft_histogram(target, bins)).abs().sum(-1).mean()


class HistogramLoss(nn.Module):
    """Module form of :func:`histogram_loss`.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> stack = torch.rand(2, 6, 3, 8, 8)  # (B, E, 3, H, W)
        >>> round(float(HistogramLoss(bins=16)(stack.clamp(0.25, 0.75), stack)), 3)  # clipped shadows, highlights
        0.705
    """

    def __init__(self, bins: int = 256) -> None:
        super().__init__()
        self.bins = bins

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return histogram_loss(pred, target, self.bins)
