"""mu-law PSNR and log PSNR against NumPy references written from their definitions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from hdrsyn.metrics.hdr_psnr import LogPSNR, MuLawPSNR

WEIGHTS = np.array([0.2126, 0.7152, 0.0722])


def _aligned_max_normalised(pred: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Median-ratio scale alignment, then division by the reference maximum (one image, (3, H, W))."""
    k = np.median(np.tensordot(WEIGHTS, target, 1) / np.tensordot(WEIGHTS, pred, 1))
    return k * pred / target.max(), target / target.max()


def _mu_psnr(pred: np.ndarray, target: np.ndarray, mu: float) -> float:
    p, t = _aligned_max_normalised(pred, target)
    tonemap = lambda x: np.log1p(mu * np.clip(x, 0, 1)) / np.log1p(mu)  # noqa: E731
    return 10 * np.log10(1 / np.mean((tonemap(p) - tonemap(t)) ** 2))


def _log_psnr(pred: np.ndarray, target: np.ndarray, eps: float) -> float:
    p, t = _aligned_max_normalised(pred, target)
    lp, lt = np.log10(np.maximum(p, eps)), np.log10(np.maximum(t, eps))
    return 10 * np.log10((lt.max() - np.log10(eps)) ** 2 / np.mean((lp - lt) ** 2))


@pytest.mark.parametrize("mu", [5000.0, 100.0])
def test_mu_law_psnr_matches_reference(odd_hdr_pair, mu) -> None:
    pred, target = odd_hdr_pair
    metric = MuLawPSNR(mu=mu)
    metric.update(pred, target)
    expected = [_mu_psnr(p, t, mu) for p, t in zip(pred.numpy(), target.numpy(), strict=True)]
    np.testing.assert_allclose(metric.per_image().numpy(), expected, rtol=1e-10)
    assert set(metric.compute()) == {"mu_psnr", "mu_psnr_std"}


def test_log_psnr_matches_reference(odd_hdr_pair) -> None:
    pred, target = odd_hdr_pair
    metric = LogPSNR(eps=1e-4)
    metric.update(pred, target)
    expected = [_log_psnr(p, t, 1e-4) for p, t in zip(pred.numpy(), target.numpy(), strict=True)]
    np.testing.assert_allclose(metric.per_image().numpy(), expected, rtol=1e-10)
    assert set(metric.compute()) == {"log_psnr", "log_psnr_std"}


@pytest.mark.parametrize("metric_cls", [MuLawPSNR, LogPSNR])
def test_scale_invariant_and_ordered(hdr_pair, metric_cls) -> None:
    pred, target = hdr_pair
    scores = []
    for candidate in (pred, 1e-3 * pred, target * (1 + 0.5 * (pred / target - 1))):
        metric = metric_cls()
        metric.update(candidate, target)
        scores.append(metric.per_image())
    torch.testing.assert_close(scores[0], scores[1], rtol=1e-9, atol=1e-9)
    assert (scores[2] > scores[0]).all()


def test_invalid_parameters() -> None:
    with pytest.raises(ValueError, match="mu"):
        MuLawPSNR(mu=0.0)
    with pytest.raises(ValueError, match="eps"):
        LogPSNR(eps=0.0)
