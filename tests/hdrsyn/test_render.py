from __future__ import annotations

import numpy as np
import pytest

from hdrsyn.render import (
    EMoR,
    EVS,
    contrast_curve,
    VARIED_CAPTURE,
    ViewSampling,
    apply_response,
    auto_exposure,
    square_crop,
    equirect_to_perspective,
    highlight_content,
    jpeg_compress,
    luminance,
    render_random_view,
    render_stack,
    repair_hdr,
    sample_response,
)


@pytest.fixture(scope="module")
def emor() -> EMoR:
    return EMoR.load()


def test_emor_responses_are_monotone_and_normalised(emor: EMoR) -> None:
    assert emor.E.shape == emor.f0.shape == (1024,) and emor.h.shape == (25, 1024)
    np.testing.assert_allclose(emor.response(), emor.f0, atol=1e-6)  # f0 is already normalised
    rng = np.random.default_rng(0)
    for _ in range(20):
        curve = sample_response(emor, rng)
        assert curve[0] == 0 and curve[-1] == pytest.approx(1)
        assert np.all(np.diff(curve) >= 0)
    wild = emor.response([8.0, -8.0, 6.0])  # far from real curves: forced monotone
    assert np.all(np.diff(wild) >= 0) and wild[-1] == pytest.approx(1)
    first, second = (sample_response(emor, np.random.default_rng(5)) for _ in range(2))
    np.testing.assert_array_equal(first, second)


def test_apply_response_interpolates_linearly(emor: EMoR) -> None:
    x = np.random.default_rng(0).random((17, 3), dtype=np.float32)
    x[0] = [0.0, 1.0, 0.5]
    np.testing.assert_allclose(apply_response(x, emor.f0), np.interp(x, emor.E, emor.f0), atol=1e-6)


def test_repair_hdr() -> None:
    hdr = np.full((9, 9, 3), 2.0, np.float32)
    hdr[4, 4] = [-50.0, 3.0, 2.0]  # a negative halo pixel
    hdr[1, 1] = [0.0, 0.0, 900.0]  # a channel dropout in a light source
    fixed = repair_hdr(hdr)
    assert fixed.min() >= 0
    np.testing.assert_array_equal(fixed[4, 4], [2.0, 2.0, 2.0])
    np.testing.assert_array_equal(fixed[1, 1], [900.0, 900.0, 900.0])
    np.testing.assert_array_equal(fixed[0, 0], hdr[0, 0])


def _latitude_pano(height: int = 64) -> np.ndarray:
    """Equirectangular image whose value is the latitude in degrees (+90 top, -90 bottom)."""
    lat = 90 - (np.arange(height) + 0.5) / height * 180
    return np.repeat(np.repeat(lat[:, None, None], 2 * height, 1), 3, 2).astype(np.float32)


def test_perspective_view_geometry() -> None:
    pano = _latitude_pano()
    level = equirect_to_perspective(pano, 33, fov=60, pitch=0)[..., 0]
    assert abs(level[16, 16]) < 2 and level[0, 16] > 25 and level[-1, 16] < -25  # up is up
    # looking straight up: latitude falls off with the distance to the centre, the same in every direction
    up = equirect_to_perspective(pano, 33, fov=90, pitch=90)[..., 0]
    assert up[16, 16] > 85
    ring = [up[16, 1], up[16, -2], up[1, 16], up[-2, 16]]
    assert max(ring) - min(ring) < 1.5 and max(ring) < 50
    # yaw: a bright meridian at longitude +90 is centred by yaw=90
    marked = np.zeros((32, 64, 3), np.float32)
    marked[:, 47:49] = 1.0
    view = equirect_to_perspective(marked, 31, fov=30, yaw=90)[..., 0]
    assert view[:, 15].min() > 0.3 and view[:, :5].max() < 0.05


def test_perspective_view_prefilters_fine_panoramas() -> None:
    stripes = np.zeros((256, 512, 3), np.float32)
    stripes[:, ::2] = 1.0  # 1-pixel stripes alias badly without a prefilter
    view = equirect_to_perspective(stripes, 16, fov=60)
    np.testing.assert_allclose(view, 0.5, atol=0.05)


def test_square_crop() -> None:
    image = np.arange(40 * 60 * 3, dtype=np.float32).reshape(40, 60, 3)
    assert square_crop(image, 20, center=(0.0, 0.0)).shape == (20, 20, 3)
    np.testing.assert_array_equal(square_crop(image, 40, center=(1.0, 0.0)), image[:, 20:])
    with pytest.raises(ValueError):
        square_crop(image, 20, zoom=0.5)


def test_auto_exposure_is_well_exposed() -> None:
    rng = np.random.default_rng(0)
    hdr = np.exp2(rng.uniform(-10, 4, (64, 64, 1))).repeat(3, 2).astype(np.float32)
    scale = auto_exposure(hdr)
    lum = luminance(hdr * scale)
    assert np.mean(lum > 1) <= 0.05
    assert np.exp(np.log(lum + 1e-6).mean()) <= 0.18 * 1.001


def test_render_stack_with_a_linear_response() -> None:
    hdr = np.random.default_rng(0).uniform(0, 2, (8, 8, 3)).astype(np.float32)
    linear = np.linspace(0, 1, 1024, dtype=np.float32)
    stack = render_stack(hdr, linear)
    assert stack.shape == (7, 8, 8, 3) and stack.dtype == np.uint8
    for image, ev in zip(stack, EVS):
        np.testing.assert_allclose(image, np.round(np.clip(hdr * 2.0**ev, 0, 1) * 255), atol=1)
    with pytest.raises(ValueError, match="rng"):
        render_stack(hdr, linear, noise=(1e-3, 1e-3))
    noisy = render_stack(hdr, linear, noise=(1e-3, 1e-3), rng=np.random.default_rng(0))
    assert 0 < np.abs(noisy.astype(int) - stack).mean() < 10


def test_render_random_view(emor: EMoR) -> None:
    pano = np.exp2(np.random.default_rng(0).uniform(-4, 4, (64, 128, 3))).astype(np.float32)
    stack, hdr = render_random_view(pano, emor, np.random.default_rng(1), 24, panorama=True)
    again, hdr_again = render_random_view(pano, emor, np.random.default_rng(1), 24, panorama=True)
    np.testing.assert_array_equal(stack, again)
    np.testing.assert_array_equal(hdr, hdr_again)
    assert stack.shape == (7, 24, 24, 3) and hdr.shape == (24, 24, 3) and hdr.dtype == np.float32
    clean, hdr = render_random_view(pano, emor, np.random.default_rng(2), 24, False, ViewSampling(noise=False))
    assert np.all(clean[3][hdr >= 1] == 255)  # EV 0 is exposed with time 1: irradiance >= 1 saturates
    assert np.all(clean[0][hdr * 2.0**-3 <= 0] == 0)


def test_views_above_the_horizon(emor: EMoR) -> None:
    pano = np.where(_latitude_pano() > 0, 1.0, 1e-3).astype(np.float32)  # bright sky, dark ground
    rng = np.random.default_rng(0)
    above = ViewSampling(above_horizon=True, noise=False)
    for _ in range(8):
        _, hdr = render_random_view(pano, emor, rng, 16, panorama=True, sampling=above)
        assert hdr.max() / hdr.min() < 2
    ground = [render_random_view(pano, emor, rng, 16, True, ViewSampling(noise=False))[1] for _ in range(8)]
    assert max(h.max() / h.min() for h in ground) > 100


def test_jpeg_compress_round_trip() -> None:
    yy, xx = np.mgrid[0:32, 0:32]
    smooth = np.stack([xx * 8, yy * 8, (xx + yy) * 4], -1).astype(np.uint8)[None].repeat(2, 0)
    noisy = np.random.default_rng(0).integers(0, 256, smooth.shape, dtype=np.uint8)
    assert np.abs(jpeg_compress(smooth, 95).astype(int) - smooth).mean() < 2
    high, low = (np.abs(jpeg_compress(noisy, q).astype(int) - noisy).mean() for q in (95, 20))
    assert 0 < high < low
    with pytest.raises(ValueError, match="quality"):
        jpeg_compress(smooth, 0)


def test_varied_capture_changes_exposure_and_adds_jpeg(emor: EMoR) -> None:
    pano = np.exp2(np.random.default_rng(0).uniform(-4, 4, (64, 128, 3))).astype(np.float32)
    fixed = [render_random_view(pano, emor, np.random.default_rng(i), 32, True)[1] for i in range(6)]
    varied = [render_random_view(pano, emor, np.random.default_rng(i), 32, True, VARIED_CAPTURE)[1]
              for i in range(6)]
    # the fixed key lands every view's log-average luminance near 0.18 (unless clipping lowers it)
    log_avg = [np.exp(np.log(luminance(h) + 1e-6).mean()) for h in (*fixed, *varied)]
    assert np.ptp(log_avg[:6]) < np.ptp(log_avg[6:])
    # default sampling draws no extra random numbers: the default views are unchanged
    same = render_random_view(pano, emor, np.random.default_rng(0), 32, True, ViewSampling(key=(0.18, 0.18)))
    np.testing.assert_array_equal(same[0], render_random_view(pano, emor, np.random.default_rng(0), 32, True)[0])


def test_gamma_responses_render_through_a_gamma_curve(emor: EMoR) -> None:
    """``gamma_responses=1``: one stop more exposure multiplies unclipped levels by ``2^(1/g)``, g in 1.8..2.6;
    a zero share draws nothing extra (the default views are unchanged)."""
    pano = np.exp2(np.random.default_rng(0).uniform(-4, 4, (64, 128, 3))).astype(np.float32)
    sampling = ViewSampling(noise=False, gamma_responses=1.0)
    for seed in range(4):
        stack, _ = render_random_view(pano, emor, np.random.default_rng(seed), 32, True, sampling)
        z0, z1 = stack[3].astype(np.float64), stack[4].astype(np.float64)  # EV 0 and EV +1, uint8
        well = (z0 > 40) & (z1 < 230)
        ratio = np.median(np.log2(z1[well] / z0[well]))
        assert 1 / 2.6 - 0.02 < ratio < 1 / 1.8 + 0.02, ratio
    default = render_random_view(pano, emor, np.random.default_rng(0), 32, True)[0]
    zero = render_random_view(pano, emor, np.random.default_rng(0), 32, True, ViewSampling(gamma_responses=0.0))[0]
    np.testing.assert_array_equal(default, zero)


def test_contrast_curve_is_a_monotone_s_curve_and_used_after_gamma(emor: EMoR) -> None:
    """The S-curve keeps 0, 1/2 and 1, darkens below 1/2 and brightens above, stays monotone for every
    strength; ``contrast`` draws it only for gamma views, so a zero range leaves the gamma views as they were."""
    y = np.linspace(0, 1, 1025)
    for s in (0.0, 0.3, 1.0):
        c = contrast_curve(y, s)
        assert c[0] == 0 and c[512] == pytest.approx(0.5) and c[-1] == pytest.approx(1.0)
        assert np.all(np.diff(c) >= 0)
        assert np.all(c[1:512] <= y[1:512]) and np.all(c[513:-1] >= y[513:-1])
    np.testing.assert_array_equal(contrast_curve(y, 0.0), y)
    with pytest.raises(ValueError, match="contrast strength"):
        contrast_curve(y, 1.5)
    pano = np.exp2(np.random.default_rng(0).uniform(-4, 4, (64, 128, 3))).astype(np.float32)
    plain = ViewSampling(noise=False, gamma_responses=1.0)
    contrasty = ViewSampling(noise=False, gamma_responses=1.0, contrast=(0.5, 0.5))
    a = render_random_view(pano, emor, np.random.default_rng(0), 32, True, plain)[0].astype(float)
    b = render_random_view(pano, emor, np.random.default_rng(0), 32, True, contrasty)[0].astype(float)
    assert b[a < 100].mean() < a[a < 100].mean() and b[a > 160].mean() > a[a > 160].mean()
    zero = ViewSampling(noise=False, gamma_responses=1.0, contrast=(0.0, 0.0))
    np.testing.assert_array_equal(a, render_random_view(pano, emor, np.random.default_rng(0), 32, True, zero)[0])


def test_highlight_tries_keep_the_framing_with_the_most_clipped_highlights(emor: EMoR) -> None:
    """A panorama with one bright lamp: 6 framings per view find it far more often than one; 1 try is the default."""
    pano = np.full((64, 128, 3), 0.2, np.float32)
    pano[28:36, 60:68] = 400.0  # the lamp, ~11 stops above the walls
    one = ViewSampling(noise=False)
    default = [render_random_view(pano, emor, np.random.default_rng(k), 16, True, one) for k in range(12)]
    once = ViewSampling(noise=False, highlight_tries=1)
    same = [render_random_view(pano, emor, np.random.default_rng(k), 16, True, once) for k in range(12)]
    assert all(np.array_equal(a[0], b[0]) for a, b in zip(default, same))  # one try draws nothing extra
    tries = ViewSampling(noise=False, highlight_tries=6)
    chosen = [render_random_view(pano, emor, np.random.default_rng(k), 16, True, tries) for k in range(12)]
    with_lamp = lambda views: sum(highlight_content(hdr) > 0 for _, hdr in views)  # noqa: E731
    assert with_lamp(chosen) >= 10 and with_lamp(chosen) > with_lamp(default) + 3
    assert highlight_content(np.full((4, 4, 3), 0.3, np.float32)) == 0.0
    with pytest.raises(ValueError, match="highlight_tries"):
        ViewSampling(highlight_tries=0)
