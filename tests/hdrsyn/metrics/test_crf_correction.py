"""CRF-corrected scoring: a prediction distorted by a known monotone tone curve scores like the undistorted one."""

from __future__ import annotations

import pytest
import torch

from hdrsyn.metrics import PU21PSNR, CRFCorrected, crf_correct, cvvdp_available, mu_law_psnr, pu21_psnr, pu21_ssim
from hdrsyn.metrics.crf_correction import apply_curve, monotone_curve, pq_decode, pq_encode
from ops.tonemap import luminance
from tests.hdrsyn.metrics.conftest import degrade, smooth_hdr

TINT = torch.tensor([1.1, 1.0, 0.85]).view(1, 3, 1, 1)


@pytest.fixture
def clean_and_distorted() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """A noisy prediction, the same through the tone curve ``Y -> 3 Y^0.6`` and a tint, and the reference."""
    target = smooth_hdr(3, 64, seed=0).float()
    clean = degrade(target, 0.05, seed=1)
    y = luminance(clean)
    return clean, clean * (3 * y**0.6 / y) * TINT, target


@pytest.mark.parametrize(("score", "tolerance"), [(pu21_psnr, 0.1), (mu_law_psnr, 0.1), (pu21_ssim, 1e-3)])
def test_known_curve_is_undone(clean_and_distorted, score, tolerance: float) -> None:
    clean, distorted, target = clean_and_distorted
    plain_clean, plain_distorted = score(clean, target), score(distorted, target)
    corrected = score(crf_correct(distorted, target), target)
    assert (plain_distorted < plain_clean - 10 * tolerance).all()
    torch.testing.assert_close(corrected, plain_clean, rtol=0, atol=tolerance)
    torch.testing.assert_close(score(crf_correct(clean, target), target), plain_clean, rtol=0, atol=tolerance)


def test_corrected_jod_recovers_too(clean_and_distorted) -> None:
    if not cvvdp_available():
        pytest.skip("cvvdp not installed")
    from hdrsyn.metrics import color_video_vdp

    clean, distorted, target = (x[:1, :, :32, :32] for x in clean_and_distorted)
    corrected = color_video_vdp(crf_correct(distorted, target), target)
    assert color_video_vdp(distorted, target) < corrected - 1
    torch.testing.assert_close(corrected, color_video_vdp(clean, target), rtol=0, atol=0.1)


def test_correction_keeps_the_reference_scale(clean_and_distorted) -> None:
    _, distorted, target = clean_and_distorted
    corrected = crf_correct(1e-3 * distorted, target)
    ratio = (luminance(corrected) / luminance(target)).flatten(1).median(1).values
    torch.testing.assert_close(ratio, torch.ones(3), rtol=0.02, atol=0)


def test_monotone_fit_and_pq() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2000, generator=g)
    y = x**2 + 0.2 * torch.randn(2000, generator=g)  # noise makes the bin means violate monotonicity
    knots_x, knots_y = monotone_curve(x, y, bins=64)
    assert (knots_x.diff() >= 0).all() and (knots_y.diff() >= 0).all()
    grid = torch.linspace(-0.5, 1.5, 101)
    assert (apply_curve(grid, knots_x, knots_y).diff() >= 0).all()
    luminances = torch.tensor([0.0, 0.01, 1.0, 100.0, 1000.0, 10000.0], dtype=torch.float64)
    torch.testing.assert_close(pq_decode(pq_encode(luminances)), luminances, rtol=1e-9, atol=1e-9)


def test_wrapper_and_bad_arguments(clean_and_distorted) -> None:
    clean, distorted, target = clean_and_distorted
    metric = CRFCorrected(PU21PSNR())
    metric.update(distorted, target)
    torch.testing.assert_close(metric.per_image(), pu21_psnr(crf_correct(distorted, target), target))
    assert set(metric.compute()) == {"crf/pu21_psnr", "crf/pu21_psnr_std"}
    with pytest.raises(TypeError, match="metric"):
        CRFCorrected(pu21_psnr)
    with pytest.raises(ValueError, match="bins"):
        monotone_curve(torch.rand(10), torch.rand(10), bins=1)
    with pytest.raises(ValueError, match="peak"):
        crf_correct(clean, target, peak=0)
