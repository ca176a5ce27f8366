"""The HDR normalisation protocol: percentile / max mapping, scale alignment, validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdrsyn.metrics import crf_correct, log_psnr, mu_law_psnr, pu21_psnr, pu21_ssim
from hdrsyn.metrics.normalization import HDRNormalization, align_scale, normalize_hdr, percentile
from ops.tonemap import luminance


def _lum(x: torch.Tensor) -> np.ndarray:
    return luminance(x).flatten(1).numpy()


def test_percentile_matches_numpy() -> None:
    x = torch.rand(3, 1001, dtype=torch.float64)
    for q in (0.0, 0.1, 37.3, 99.9, 100.0):
        np.testing.assert_allclose(percentile(x, q).numpy(), np.percentile(x.numpy(), q, axis=1), rtol=1e-12)


def test_percentile_mode_maps_reference_percentiles_to_floor_and_peak(hdr_pair) -> None:
    pred, target = hdr_pair
    _, ref = normalize_hdr(pred, target)
    y = _lum(ref)
    np.testing.assert_allclose(np.percentile(y, 0.1, axis=1), 1.0, rtol=1e-9)
    np.testing.assert_allclose(np.percentile(y, 99.9, axis=1), 1000.0, rtol=1e-9)
    assert ref.min() >= 0


def test_formula_is_affine_in_linear_rgb(hdr_pair) -> None:
    pred, target = hdr_pair
    _, ref = normalize_hdr(pred, target, low=1.0, high=99.0, peak=500.0, floor=2.0)
    y = _lum(target)
    p_lo, p_hi = np.percentile(y, 1.0, axis=1), np.percentile(y, 99.0, axis=1)
    scale = (500.0 - 2.0) / (p_hi - p_lo)
    expected = 2.0 + (target.numpy() - p_lo[:, None, None, None]) * scale[:, None, None, None]
    np.testing.assert_allclose(ref.numpy(), np.maximum(expected, 0), rtol=1e-10)


@pytest.mark.parametrize("mode", ["percentile", "max"])
def test_median_alignment_removes_the_prediction_scale(hdr_pair, mode) -> None:
    pred, target = hdr_pair
    a = normalize_hdr(pred, target, mode=mode)[0]
    b = normalize_hdr(123.0 * pred, target, mode=mode)[0]
    torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-10)
    exact, ref = normalize_hdr(0.01 * target, target, mode=mode)
    torch.testing.assert_close(exact, ref, rtol=1e-10, atol=1e-10)


def test_align_scale_is_the_median_luminance_ratio(hdr_pair) -> None:
    pred, target = hdr_pair
    expected = np.median(_lum(target) / _lum(pred), axis=1)
    k = align_scale(pred, target).flatten().numpy()
    # torch's median is the lower middle element for even counts, numpy averages the two middle ones
    np.testing.assert_allclose(k, expected, rtol=1e-3)


def test_align_none_and_max_mode(hdr_pair) -> None:
    pred, target = hdr_pair
    pred_n, ref_n = normalize_hdr(pred, target, mode="max", peak=4000.0, align="none")
    scale = 4000.0 / target.flatten(1).amax(1).view(-1, 1, 1, 1)
    torch.testing.assert_close(ref_n, target * scale)
    torch.testing.assert_close(pred_n, pred * scale)


def test_alignment_falls_back_to_one_for_a_black_prediction(hdr_pair) -> None:
    _, target = hdr_pair
    assert torch.equal(align_scale(torch.zeros_like(target), target), torch.ones(3, 1, 1, 1, dtype=target.dtype))


def test_dataclass_calls_the_function_and_describes_itself(hdr_pair) -> None:
    pred, target = hdr_pair
    cfg = HDRNormalization(mode="max", peak=1.0)
    for a, b in zip(cfg(pred, target), normalize_hdr(pred, target, mode="max", peak=1.0), strict=True):
        assert torch.equal(a, b)
    info = HDRNormalization().as_dict()
    assert info["low"] == 0.1 and info["high"] == 99.9 and info["peak"] == 1000.0 and "P99.9" in info["formula"]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "log"},
        {"align": "lsq"},
        {"low": 50.0, "high": 10.0},
        {"floor": 10.0, "peak": 5.0},
        {"mode": "max", "peak": 0.0},
    ],
)
def test_invalid_parameters_raise(kwargs) -> None:
    with pytest.raises(ValueError):
        HDRNormalization(**kwargs)


def test_invalid_inputs_raise() -> None:
    good = torch.rand(1, 3, 8, 8)
    cases = [(torch.rand(3, 8, 8), torch.rand(3, 8, 8)), (good, torch.rand(1, 3, 8, 9)), (good * torch.nan, good)]
    for pred, target in cases:
        with pytest.raises(ValueError):
            normalize_hdr(pred, target)


@pytest.mark.parametrize("metric", [pu21_psnr, mu_law_psnr, log_psnr, pu21_ssim, crf_correct],
                         ids=lambda f: f.__name__)
def test_metrics_refuse_what_cannot_be_scored(metric) -> None:  # noqa: ANN001
    """An empty batch, a zero-size image or an all-zero reference is a ValueError, not a NaN / inf score."""
    pred = torch.rand(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"is empty \(shape \[0, 3, 8, 8\]\)"):
        metric(pred[:0], pred[:0])
    with pytest.raises(ValueError, match=r"is empty \(shape \[2, 3, 0, 8\]\)"):
        metric(pred[:, :, :0], pred[:, :, :0])
    target = torch.rand(2, 3, 8, 8)
    target[1] = 0
    with pytest.raises(ValueError, match=r"target image\(s\) \[1\] have no positive radiance"):
        metric(pred, target)
