"""The one HDR normalisation protocol shared by every HDR metric and by the HDR-VDP-2 exporter.

Predicted HDR images are relative (unknown scale) and HDR quality metrics expect display-referred
absolute luminance (cd/m²), so a number means nothing without the protocol that produced it. The
protocol has two steps, both computed per image from luminance (Rec. 709 weights):

1. **Scale alignment** (``align="median"``): the prediction is multiplied by
   ``k = median(Y_ref / Y_pred)`` over the pixels where both luminances exceed ``1e-8`` times the
   image's own maximum (``k = 1`` when no pixel qualifies). Unlike a least-squares fit, the median of
   per-pixel ratios is robust to clipped highlights and dark noise. ``align="none"`` keeps ``k = 1``.
2. **Range mapping**, derived from the *reference only* and applied identically to both images and
   all three channels:

   - ``mode="percentile"``: ``x' = floor + (x - P_low) * (peak - floor) / (P_high - P_low)`` where
     ``P_low``, ``P_high`` are the ``low``-th and ``high``-th percentiles (numpy's linear
     interpolation) of the reference luminance. With the defaults the reference's 0.1 / 99.9 %
     luminance percentiles land on 1 and 1000 cd/m², a range normalisation of the kind used for
     published HDR-VDP-2 numbers (SingleHDR, ExpandNet); those authors' exact formulas are not
     reproduced here, so state this protocol next to every number.
   - ``mode="max"``: ``x' = x * peak / max(x_ref)``, the maximum over all reference pixels and
     channels (``floor``, ``low`` and ``high`` are unused).

   Results are clamped at 0 (the affine map sends the darkest reference pixels and dark
   prediction pixels slightly below ``floor``, possibly below 0).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import torch
from torch import Tensor

from ops.tonemap import luminance

_ALIGN_RELATIVE_EPS = 1e-8
_DENOMINATOR_EPS = 1e-12


def check_hdr_pair(pred: Tensor, target: Tensor) -> None:
    """Raise ``ValueError`` unless ``pred`` and ``target`` are same-shape finite non-empty ``(B, 3, H, W)`` float
    tensors and every ``target`` image has some positive radiance."""
    for name, x in (("pred", pred), ("target", target)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor, got {type(x).__name__}")
        if x.dim() != 4 or x.shape[1] != 3:
            raise ValueError(f"{name} must be (B, 3, H, W) linear RGB, got shape {tuple(x.shape)}")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty (shape {list(x.shape)}): an empty batch or a zero-size image")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains NaN or Inf values")
    if pred.shape != target.shape:
        raise ValueError(f"pred and target shapes differ: {tuple(pred.shape)} vs {tuple(target.shape)}")
    dark = (~(target.detach().flatten(1) > 0).any(1)).nonzero().flatten().tolist()
    if dark:
        raise ValueError(f"target image(s) {dark} have no positive radiance (all zero or negative): "
                         "a reference without light cannot be scored")


def percentile(x: Tensor, q: float) -> Tensor:
    """Per-row ``q``-th percentile (0..100) of a ``(B, N)`` tensor with numpy's linear interpolation.

    Sort-based, so unlike :func:`torch.quantile` it has no input-size limit.
    """
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be in [0, 100], got {q}")
    values = x.sort(dim=1).values
    pos = q / 100.0 * (values.shape[1] - 1)
    lo = int(pos)
    hi = min(lo + 1, values.shape[1] - 1)
    return values[:, lo] + (pos - lo) * (values[:, hi] - values[:, lo])


def align_scale(pred: Tensor, target: Tensor) -> Tensor:
    """Per-image factor ``k`` (``(B, 1, 1, 1)``) with ``k * pred`` matching ``target``: median luminance ratio."""
    y_pred, y_ref = luminance(pred).flatten(1), luminance(target).flatten(1)
    valid = (y_pred > _ALIGN_RELATIVE_EPS * y_pred.amax(1, keepdim=True).clamp_min(0)) & (
        y_ref > _ALIGN_RELATIVE_EPS * y_ref.amax(1, keepdim=True).clamp_min(0)
    )
    ratio = torch.where(valid, y_ref / torch.where(valid, y_pred, 1.0), torch.nan)
    return ratio.nanmedian(dim=1).values.nan_to_num(1.0).view(-1, 1, 1, 1)


def normalize_hdr(
    pred: Tensor,
    target: Tensor,
    mode: Literal["percentile", "max"] = "percentile",
    low: float = 0.1,
    high: float = 99.9,
    peak: float = 1000.0,
    floor: float = 1.0,
    align: Literal["median", "none"] = "median",
) -> tuple[Tensor, Tensor]:
    """Map a relative HDR prediction and its reference to display-referred values (module docstring).

    Args:
        pred: ``(B, 3, H, W)`` linear RGB prediction, any scale.
        target: ``(B, 3, H, W)`` linear RGB reference, any scale.
        mode: ``"percentile"`` (affine map of the reference's ``low``/``high`` luminance percentiles to
            ``floor``/``peak``) or ``"max"`` (reference maximum to ``peak``).
        low: lower luminance percentile of the reference, in percent.
        high: upper luminance percentile of the reference, in percent.
        peak: value (cd/m²) of the reference's ``high`` percentile (or maximum in ``"max"`` mode).
        floor: value (cd/m²) of the reference's ``low`` percentile.
        align: ``"median"`` rescales the prediction by the median luminance ratio first; ``"none"`` keeps it.

    Returns:
        ``(pred', target')``, both clamped at 0.
    """
    check_hdr_pair(pred, target)
    _check_params(mode, low, high, peak, floor, align)
    if align == "median":
        pred = pred * align_scale(pred, target)
    if mode == "max":
        scale = peak / target.flatten(1).amax(1).clamp_min(_DENOMINATOR_EPS).view(-1, 1, 1, 1)
        return (pred * scale).clamp_min(0), (target * scale).clamp_min(0)
    y_ref = luminance(target).flatten(1)
    p_low = percentile(y_ref, low).view(-1, 1, 1, 1)
    p_high = percentile(y_ref, high).view(-1, 1, 1, 1)
    scale = (peak - floor) / (p_high - p_low).clamp_min(_DENOMINATOR_EPS)
    return (floor + (pred - p_low) * scale).clamp_min(0), (floor + (target - p_low) * scale).clamp_min(0)


def _check_params(mode: str, low: float, high: float, peak: float, floor: float, align: str) -> None:
    if mode not in ("percentile", "max"):
        raise ValueError(f"mode must be 'percentile' or 'max', got {mode!r}")
    if align not in ("median", "none"):
        raise ValueError(f"align must be 'median' or 'none', got {align!r}")
    if mode == "max" and not peak > 0:
        raise ValueError(f"need peak > 0, got {peak}")
    if mode == "percentile" and not (0.0 <= low < high <= 100.0 and 0.0 <= floor < peak):
        raise ValueError(f"need 0 <= low < high <= 100 and 0 <= floor < peak, got {low}, {high}, {floor}, {peak}")


@dataclass(frozen=True)
class HDRNormalization:
    """Configuration of :func:`normalize_hdr`; call it on ``(pred, target)``. Defaults: 0.1/99.9 % -> 1..1000 cd/m²."""

    mode: Literal["percentile", "max"] = "percentile"
    low: float = 0.1
    high: float = 99.9
    peak: float = 1000.0
    floor: float = 1.0
    align: Literal["median", "none"] = "median"

    def __post_init__(self) -> None:
        _check_params(**asdict(self))

    def __call__(self, pred: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        return normalize_hdr(pred, target, **asdict(self))

    def as_dict(self) -> dict[str, Any]:
        """The parameters plus the formula, for manifests and logs."""
        if self.mode == "max":
            formula = f"x' = max(0, k*x * {self.peak} / max(x_ref))"
        else:
            formula = (
                f"x' = max(0, {self.floor} + (k*x - P{self.low}(Y_ref)) * ({self.peak} - {self.floor}) / "
                f"(P{self.high}(Y_ref) - P{self.low}(Y_ref)))"
            )
        k = "k = median(Y_ref / Y_pred) for the prediction, 1 for the reference" if self.align == "median" else "k = 1"
        return {**asdict(self), "formula": formula, "alignment": k, "luminance": "Rec. 709 (0.2126, 0.7152, 0.0722)"}


#: The default protocol: median scale alignment, reference 0.1 / 99.9 % luminance percentiles -> 1..1000 cd/m².
PERCENTILE_1_1000 = HDRNormalization()
