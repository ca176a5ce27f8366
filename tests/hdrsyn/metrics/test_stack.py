"""StackMetrics against scikit-image (PSNR, SSIM) and a NumPy MS-SSIM written from Wang et al. 2003."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.signal import fftconvolve
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from hdrsyn.metrics.stack import MS_SSIM_BETAS, StackMetrics, ms_ssim_betas_for

EVS = (-3, -2, -1, 1, 2, 3)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size) - (size - 1) / 2
    g = np.exp(-(x**2) / (2 * sigma**2))
    return np.outer(g, g) / g.sum() ** 2


def _ssim_and_cs_maps(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SSIM and contrast-structure maps of (C, H, W) images in [0, 1], same size (reflected borders)."""
    w = _gaussian_window()[None]
    pad = lambda a: np.pad(a, ((0, 0), (5, 5), (5, 5)), mode="reflect")  # noqa: E731
    blur = lambda a: fftconvolve(pad(a), w, mode="valid", axes=(1, 2))  # noqa: E731 - symmetric window
    c1, c2 = 0.01**2, 0.03**2
    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx**2, blur(y * y) - my**2, blur(x * y) - mx * my
    cs = (2 * cxy + c2) / (vx + vy + c2)
    return (2 * mx * my + c1) / (mx**2 + my**2 + c1) * cs, cs


def _ssim_reference(x: np.ndarray, y: np.ndarray, wang: bool = True) -> float:
    """Mean SSIM; ``wang=False``: torchmetrics' convention, the mean over all pixels (reflected borders)."""
    ssim, _ = _ssim_and_cs_maps(x, y)
    return float((ssim[:, 5:-5, 5:-5] if wang else ssim).mean())


def _ms_ssim_reference(x: np.ndarray, y: np.ndarray, betas: tuple[float, ...], wang: bool = True) -> float:
    """Wang et al. 2003 MS-SSIM (means over window positions inside the image, 2x2 mean down-sampling).

    ``wang=False``: torchmetrics' convention for the coarsest scale's SSIM term (mean over all pixels).
    """
    terms = []
    for i, beta in enumerate(betas):
        last = i == len(betas) - 1
        term = _ssim_reference(x, y, wang) if last else _ssim_and_cs_maps(x, y)[1][:, 5:-5, 5:-5].mean()
        terms.append(max(term, 0.0) ** beta)
        h, w = x.shape[1] // 2 * 2, x.shape[2] // 2 * 2
        x = x[:, :h, :w].reshape(x.shape[0], h // 2, 2, w // 2, 2).mean((2, 4))
        y = y[:, :h, :w].reshape(y.shape[0], h // 2, 2, w // 2, 2).mean((2, 4))
    return float(np.prod(terms))


def test_matches_reference_implementations(stacks) -> None:
    """PSNR equals scikit-image; SSIM and MS-SSIM equal the NumPy references under torchmetrics' border rule."""
    preds, target = stacks
    metric = StackMetrics()
    with pytest.warns(UserWarning, match="3 scales"):
        metric.update(preds, target)
    values = metric.per_image()
    betas = ms_ssim_betas_for(64, 64)
    for b in range(target.shape[0]):
        for column, index in enumerate([0, 1, 2, 4, 5, 6]):
            p, t = preds[b, index].numpy(), target[b, index].numpy()
            psnr = peak_signal_noise_ratio(t, p, data_range=1.0)
            assert values["psnr"][b, column].item() == pytest.approx(psnr, abs=1e-9)
            assert values["ssim"][b, column].item() == pytest.approx(_ssim_reference(p, t, wang=False), abs=1e-9)
            ms_ssim = _ms_ssim_reference(p, t, betas, wang=False)  # torchmetrics holds betas in float32
            assert values["ms_ssim"][b, column].item() == pytest.approx(ms_ssim, abs=1e-7)


def test_paper_size_agreement_with_scikit_image_and_wang() -> None:
    """At 256 px, torchmetrics' border rule moves SSIM by < 3e-3 and 5-scale MS-SSIM by < 5e-4."""
    g = torch.Generator().manual_seed(5)
    target = torch.rand(1, 3, 3, 256, 256, generator=g).cumsum(-1).div(256)
    preds = (target + 0.05 * torch.randn(target.shape, generator=g)).clamp(0, 1)
    metric = StackMetrics()
    metric.update(preds, target)  # float32 (float64 convolutions are 6x slower on CPU)
    assert metric.ms_ssim_betas_used == MS_SSIM_BETAS
    values = metric.per_image()
    for column, index in enumerate([0, 2]):
        p, t = preds[0, index].double().numpy(), target[0, index].double().numpy()
        skimage_ssim = structural_similarity(
            t, p, data_range=1.0, channel_axis=0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        assert _ssim_reference(p, t) == pytest.approx(skimage_ssim, abs=1e-9)
        assert values["ssim"][0, column].item() == pytest.approx(_ssim_reference(p, t, wang=False), abs=1e-5)
        assert values["ssim"][0, column].item() == pytest.approx(skimage_ssim, abs=3e-3)
        ms_ssim = values["ms_ssim"][0, column].item()
        assert ms_ssim == pytest.approx(_ms_ssim_reference(p, t, MS_SSIM_BETAS, wang=False), abs=1e-5)
        assert ms_ssim == pytest.approx(_ms_ssim_reference(p, t, MS_SSIM_BETAS), abs=5e-4)


@pytest.mark.filterwarnings("ignore:MS-SSIM on")
def test_keys_follow_the_ev_order_and_the_centre_is_excluded(stacks) -> None:
    target = stacks[1].float()
    preds = target.clone()
    preds[:, 5] = preds[:, 5].flip(-1)  # EV +2 only
    preds[:, 3] = 1 - preds[:, 3]  # the input image: ignored
    metric = StackMetrics()
    metric.update(preds, target)
    out = metric.compute()
    groups = [f"ev{e:+d}" for e in EVS] + ["up", "down"]
    expected = {f"{q}/{k}{s}" for q in ("psnr", "ssim", "ms_ssim") for k in groups for s in ("", "_std")}
    assert set(out) == expected
    for ev in EVS:
        assert torch.isfinite(out[f"psnr/ev{ev:+d}"]).item() == (ev == 2)
        assert (out[f"ssim/ev{ev:+d}"].item() < 0.99) == (ev == 2)
    assert out["ssim/down"].item() == pytest.approx(1.0, abs=1e-4)
    values = metric.per_image()["ssim"]
    assert out["ssim/up"].item() == pytest.approx(values[:, 3:].mean().item())
    assert out["ssim/up_std"].item() == pytest.approx(np.std(values[:, 3:].numpy()))
    assert out["ssim/ev+2_std"].item() == pytest.approx(np.std(values[:, 4].numpy()))


def test_ms_ssim_scales_for_image_size() -> None:
    assert ms_ssim_betas_for(256, 256) == MS_SSIM_BETAS
    assert ms_ssim_betas_for(176, 300) == MS_SSIM_BETAS
    assert len(ms_ssim_betas_for(175, 300)) == 4
    assert len(ms_ssim_betas_for(64, 64)) == 3
    assert len(ms_ssim_betas_for(21, 21)) == 1
    assert len(ms_ssim_betas_for(22, 22)) == 2
    assert sum(ms_ssim_betas_for(100, 100)) == pytest.approx(sum(MS_SSIM_BETAS))
    with pytest.raises(ValueError, match="too small"):
        ms_ssim_betas_for(10, 64)


@pytest.mark.filterwarnings("ignore:MS-SSIM on")
def test_input_checks(stacks) -> None:
    preds, target = stacks
    metric = StackMetrics()
    with pytest.raises(ValueError, match="N odd"):
        metric.update(preds[:, :6], target[:, :6])
    with pytest.raises(ValueError, match="differ"):
        metric.update(preds[:1], target)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        metric.update(preds, target * 2)


def test_empty_stacks_are_refused() -> None:
    """An empty batch or zero-size images are a ValueError naming the argument, not a reduction error."""
    import pytest

    from hdrsyn.metrics import stack_psnr

    for shape in ((0, 7, 3, 8, 8), (1, 7, 3, 0, 8)):
        with pytest.raises(ValueError, match=r"preds is empty"):
            stack_psnr(torch.rand(shape), torch.rand(shape))
