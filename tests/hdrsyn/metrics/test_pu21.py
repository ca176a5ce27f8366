"""PU21 encoding against ColorVideoVDP's implementation; PU21-PSNR / PU21-SSIM against NumPy, scikit-image."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from torchmetrics.functional.image import structural_similarity_index_measure

from hdrsyn.metrics.normalization import normalize_hdr
from hdrsyn.metrics.pu21 import PU21PSNR, PU21SSIM, pu21_encode
from ops.tonemap import luminance

pycvvdp_utils = pytest.importorskip("pycvvdp.utils")


@pytest.fixture(scope="module")
def pu_reference():
    return pycvvdp_utils.PU(type="banding_glare")


def test_encoding_matches_cvvdp(pu_reference) -> None:
    y = torch.logspace(-4, 5, 2001, dtype=torch.float64)  # beyond both ends of the 0.005..10000 range
    torch.testing.assert_close(pu21_encode(y), pu_reference.encode(y), rtol=1e-12, atol=1e-9)
    assert pu21_encode(torch.tensor(100.0, dtype=torch.float64)).item() == pytest.approx(256.38, abs=0.01)
    assert pu21_encode(torch.tensor([0.0, 1e6])).tolist() == pytest.approx([0.0, 595.39], abs=0.01)


def test_psnr_matches_numpy_reference(hdr_pair, pu_reference) -> None:
    pred, target = hdr_pair
    metric = PU21PSNR()
    metric.update(pred, target)
    pred_n, target_n = normalize_hdr(pred, target)
    for i, got in enumerate(metric.per_image()):
        t, p = pu_reference.encode(target_n[i].numpy()), pu_reference.encode(pred_n[i].numpy())
        assert got.item() == pytest.approx(peak_signal_noise_ratio(t, p, data_range=256.0), abs=1e-9)


def test_ssim_matches_references(hdr_pair, pu_reference) -> None:
    pred, target = hdr_pair
    metric = PU21SSIM()
    metric.update(pred, target)
    got = metric.per_image()
    pred_n, target_n = normalize_hdr(pred, target)
    v_pred, v_ref = pu_reference.encode(luminance(pred_n)), pu_reference.encode(luminance(target_n))
    expected = structural_similarity_index_measure(v_pred, v_ref, data_range=256.0, reduction="none")
    torch.testing.assert_close(got, expected, rtol=1e-12, atol=1e-12)
    for i in range(len(got)):  # scikit-image averages only windows inside the image: ~1e-2 apart at 64 px
        sk = structural_similarity(
            v_ref[i, 0].numpy(),
            v_pred[i, 0].numpy(),
            data_range=256.0,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        assert got[i].item() == pytest.approx(sk, abs=2e-2)


@pytest.mark.parametrize("metric_cls", [PU21PSNR, PU21SSIM])
def test_scale_invariant_and_ordered(hdr_pair, metric_cls) -> None:
    pred, target = hdr_pair
    scores = []
    for candidate in (pred, 40.0 * pred, target * (1 + 0.5 * (pred / target - 1))):
        metric = metric_cls()
        metric.update(candidate, target)
        scores.append(metric.per_image())
    torch.testing.assert_close(scores[0], scores[1], rtol=1e-9, atol=1e-9)
    assert (scores[2] > scores[0]).all()  # half the error scores better


def test_compute_keys_and_population_std(hdr_pair) -> None:
    pred, target = hdr_pair
    metric = PU21PSNR()
    metric.update(pred, target)
    out = metric.compute()
    assert set(out) == {"pu21_psnr", "pu21_psnr_std"}
    values = metric.per_image().numpy()
    assert out["pu21_psnr"].item() == pytest.approx(values.mean())
    assert out["pu21_psnr_std"].item() == pytest.approx(np.std(values))


def test_absolute_inputs_without_normalization(hdr_pair, pu_reference) -> None:
    _, target = hdr_pair
    absolute = target / target.amax() * 4000.0
    noisy = absolute * 1.1
    metric = PU21PSNR(normalization=None)
    metric.update(noisy, absolute)
    t, p = pu_reference.encode(absolute.numpy()), pu_reference.encode(noisy.numpy())
    expected = [peak_signal_noise_ratio(t[i], p[i], data_range=256.0) for i in range(len(t))]
    np.testing.assert_allclose(metric.per_image().numpy(), expected, rtol=1e-12)
