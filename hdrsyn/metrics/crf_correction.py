"""CRF-corrected scoring (after Hanji et al., SIGGRAPH 2022): undo a prediction's tone curve before scoring.

A single-image method cannot know the camera response of its input, so a prediction whose tone curve
differs from the reference's by a smooth monotone function is penalised for something no method can
recover. Hanji, Mantiuk, Eilertsen, Hajisharif and Unger ("Comparison of single image HDR
reconstruction methods — the caveats of quality assessment", SIGGRAPH 2022) find that metrics agree
much better with observers after a per-image correction of that curve. Our correction of a pair, per
image:

1. both images are scaled to absolute luminance (the prediction by the median luminance ratio to
   the reference, then both so that the reference's 99.9th luminance percentile is 1000 cd/m²; a
   pure scale, so chromaticities are kept);
2. **tone curve**: in PQ-encoded luminance (SMPTE ST 2084), the prediction's pixels are split into
   ``bins`` equal-count bins; the mean reference PQ per bin, made non-decreasing by weighted
   pool-adjacent-violators, gives a monotone piecewise-linear curve through the bins' mean prediction
   PQ (its end segments extended beyond them) that is applied to the prediction's luminance, its
   chromaticity kept;
3. **colour**: per-channel gains ``median(ref_c / pred_c)`` (a diagonal, white-balance correction),
   scaled so that their Rec. 709 luminance is 1;
4. the corrected prediction is scaled back to the reference's units.

Each metric then scores (corrected prediction, reference) with its own protocol, exactly as it scores
plain predictions; scores are reported as ``crf/<key>`` beside the plain ones. Our implementation
follows the paper's description, not its code.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from hdrsyn.metrics.base import PerImageHDRMetric
from hdrsyn.metrics.normalization import align_scale, check_hdr_pair, percentile
from ops.tonemap import luminance

#: SMPTE ST 2084 (PQ) constants; luminance is in cd/m², 10000 cd/m² encodes to 1.
PQ_M1, PQ_M2 = 2610 / 16384, 2523 / 4096 * 128
PQ_C1, PQ_C2, PQ_C3 = 3424 / 4096, 2413 / 4096 * 32, 2392 / 4096 * 32
PQ_PEAK = 10000.0
_EPS = 1e-9


def pq_encode(y: Tensor) -> Tensor:
    """PQ code values in [0, 1] of absolute luminance ``y`` (cd/m², clamped to [0, 10000]).

    Example:
        >>> import torch
        >>> pq_encode(torch.tensor([0.0, 100.0, 10000.0])).round(decimals=3)
        tensor([0.0000, 0.5080, 1.0000])
    """
    y_m1 = (y.clamp(0, PQ_PEAK) / PQ_PEAK) ** PQ_M1
    return ((PQ_C1 + PQ_C2 * y_m1) / (1 + PQ_C3 * y_m1)) ** PQ_M2


def pq_decode(v: Tensor) -> Tensor:
    """Absolute luminance (cd/m²) of PQ code values ``v`` (clamped to [0, 1]); inverse of :func:`pq_encode`."""
    v_m2 = v.clamp(0, 1) ** (1 / PQ_M2)
    return PQ_PEAK * ((v_m2 - PQ_C1).clamp_min(0) / (PQ_C2 - PQ_C3 * v_m2)) ** (1 / PQ_M1)


def monotone_curve(x: Tensor, y: Tensor, bins: int = 32) -> tuple[Tensor, Tensor]:
    """Knots ``(x_k, y_k)``, both non-decreasing, of the least-squares monotone fit of ``y`` against ``x``.

    ``x`` and ``y`` are 1-D; the points are grouped into ``bins`` equal-count bins of ``x`` and the bins'
    mean ``y`` is made non-decreasing by pool-adjacent-violators, weighted by the bin sizes.

    Example:
        >>> import torch
        >>> x = torch.linspace(0, 1, 100)
        >>> knots_x, knots_y = monotone_curve(x, x.sqrt(), bins=4)
        >>> bool((knots_y.diff() >= 0).all()), len(knots_x)
        (True, 4)
    """
    if bins < 2:
        raise ValueError(f"bins must be >= 2, got {bins}")
    if x.dim() != 1 or x.shape != y.shape or x.numel() < bins:
        raise ValueError(f"x and y must be 1-D of equal length >= bins ({bins}), "
                         f"got {tuple(x.shape)}, {tuple(y.shape)}")
    order = x.argsort()
    x_bins, y_bins = x[order].tensor_split(bins), y[order].tensor_split(bins)
    knots_x = torch.stack([b.mean() for b in x_bins])
    # pool adjacent violators: blocks of (mean, weight, number of bins)
    blocks: list[list[float]] = []
    for part in y_bins:
        blocks.append([float(part.mean()), float(part.numel()), 1])
        while len(blocks) > 1 and blocks[-2][0] > blocks[-1][0]:
            (m2, w2, n2), (m1, w1, n1) = blocks.pop(), blocks.pop()
            blocks.append([(m1 * w1 + m2 * w2) / (w1 + w2), w1 + w2, n1 + n2])
    knots_y = torch.tensor([m for m, _, n in blocks for _ in range(int(n))], dtype=y.dtype, device=y.device)
    return knots_x, knots_y


def apply_curve(x: Tensor, knots_x: Tensor, knots_y: Tensor) -> Tensor:
    """Piecewise-linear curve through the knots, its end segments extended beyond the first and last knot."""
    index = torch.searchsorted(knots_x, x).clamp(1, len(knots_x) - 1)
    x0, x1, y0, y1 = knots_x[index - 1], knots_x[index], knots_y[index - 1], knots_y[index]
    return y0 + (x - x0) * (y1 - y0) / (x1 - x0).clamp_min(_EPS)


def crf_correct(preds: Tensor, target: Tensor, bins: int = 32, peak: float = 1000.0) -> Tensor:
    """The prediction ``(B, 3, H, W)`` with its tone curve and colour corrected to ``target``, at ``target``'s scale.

    For the fit in PQ, the pair is scaled (not offset, so chromaticities are kept) to absolute units:
    the prediction by the median luminance ratio to the reference, both so that the reference's 99.9th
    luminance percentile is ``peak`` cd/m². See the module docstring for the steps.

    Example:
        >>> import torch
        >>> from hdrsyn.metrics import pu21_psnr
        >>> from ops.tonemap import luminance
        >>> ref = torch.rand(1, 3, 32, 32).exp2() ** 8
        >>> distorted = ref * luminance(ref) ** -0.5  # tone curve Y -> Y^0.5
        >>> bool(pu21_psnr(distorted, ref) < 20), bool(pu21_psnr(crf_correct(distorted, ref), ref) > 40)
        (True, True)
    """
    check_hdr_pair(preds, target)
    if peak <= 0:
        raise ValueError(f"peak must be > 0, got {peak}")
    y_ref = luminance(target).flatten(1)
    scale = peak / percentile(y_ref, 99.9).clamp_min(_EPS).view(-1, 1, 1, 1)
    preds, target = preds * align_scale(preds, target) * scale, target * scale
    corrected = []
    for pred, ref in zip(preds, target, strict=True):
        y_pred = luminance(pred).flatten()
        v_pred = pq_encode(y_pred)
        knots = monotone_curve(v_pred, pq_encode(luminance(ref).flatten()), bins)
        y_new = pq_decode(apply_curve(v_pred, *knots)).view(1, *pred.shape[1:])
        y_old = y_pred.view_as(y_new)
        toned = torch.where(y_old > _EPS, pred * y_new / y_old.clamp_min(_EPS), y_new.expand_as(pred))
        corrected.append(toned * _channel_gains(toned, ref))
    return torch.stack(corrected) / scale


def _channel_gains(pred: Tensor, ref: Tensor) -> Tensor:
    """``(3, 1, 1)`` gains ``median(ref_c / pred_c)`` over pixels where both are positive, luminance 1."""
    valid = ((pred > _EPS) & (ref > _EPS)).all(0)
    if not valid.any():
        return pred.new_ones(3, 1, 1)
    gains = (ref[:, valid] / pred[:, valid]).median(dim=1).values
    return (gains / luminance(gains.view(3, 1, 1)).clamp_min(_EPS)).view(3, 1, 1)


class CRFCorrected(PerImageHDRMetric):
    """A per-image HDR metric scored after :func:`crf_correct`; key ``crf/<metric.key>``.

    Example:
        >>> from hdrsyn.metrics import PU21PSNR
        >>> metric = CRFCorrected(PU21PSNR())
        >>> metric.key
        'crf/pu21_psnr'
    """

    def __init__(self, metric: PerImageHDRMetric, bins: int = 32, **kwargs: Any) -> None:
        if not isinstance(metric, PerImageHDRMetric):
            raise TypeError(f"metric must be a PerImageHDRMetric, got {type(metric).__name__}")
        if bins < 2:
            raise ValueError(f"bins must be >= 2, got {bins}")
        super().__init__(metric.normalization, **kwargs)
        self.metric = metric
        self.bins = bins
        self.key = f"crf/{metric.key}"

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return self.metric.score(crf_correct(preds, target, self.bins), target)


def crf_protocol(bins: int = 32, peak: float = 1000.0) -> dict[str, Any]:
    """The correction's parameters and steps, for ``summary.json``."""
    return {
        "reference": "Hanji et al., SIGGRAPH 2022 (caveats of SI-HDR quality assessment)",
        "units": f"prediction scaled by median(Y_ref / Y_pred); both scaled so that P99.9(Y_ref) = {peak:g} cd/m^2",
        "tone_curve": f"monotone piecewise-linear fit in PQ luminance ({bins} equal-count bins, "
        "pool-adjacent-violators), end segments extended",
        "colour": "per-channel gains median(ref_c / pred_c), Rec. 709 luminance of the gains = 1",
        "keys": "crf/<metric>: the metric, with its own normalisation, of (corrected prediction, reference)",
    }
