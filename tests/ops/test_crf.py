import numpy as np
import pytest
import torch

from ops.crf import hat_weights, sample_grossberg, sample_spatial, solve_debevec, spatial_grid


def dense_debevec(samples: np.ndarray, log_times: np.ndarray, smoothness: float, n: int = 256) -> np.ndarray:
    """Reference: Debevec & Malik's gsolve as one dense least-squares system, solved by numpy's SVD lstsq."""
    p, m = samples.shape
    w = 1 - np.abs(2 * np.arange(n) / (n - 1) - 1)
    a = np.zeros((p * m + n - 1, n + p))
    b = np.zeros(a.shape[0])
    k = 0
    for i in range(p):
        for j in range(m):
            z = samples[i, j]
            a[k, z], a[k, n + i], b[k] = w[z], -w[z], w[z] * log_times[j]
            k += 1
    a[k, n // 2] = 1
    k += 1
    for z in range(1, n - 1):
        a[k, z - 1 : z + 2] = smoothness * w[z] * np.array([1.0, -2.0, 1.0])
        k += 1
    return np.linalg.lstsq(a, b, rcond=None)[0][:n]


def gamma_samples(n_points: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    radiance = np.exp(rng.uniform(-5, 2, n_points))
    times = 2.0 ** np.arange(-3, 4)
    values = np.clip(radiance[:, None] * times[None] / 8, 0, 1) ** (1 / 2.2)
    return np.round(values * 255).astype(np.int64), np.log(times)


@pytest.mark.parametrize("case", ["well_posed", "mostly_saturated", "flat"])
def test_solve_matches_dense_lstsq(case: str) -> None:
    samples, log_times = gamma_samples()
    if case == "mostly_saturated":  # samples white in every exposure contribute nothing
        samples[:90] = 255
    if case == "flat":  # one level everywhere: the CRF's slope is not determined (rank-deficient)
        samples[:] = 100
    reference = dense_debevec(samples, log_times, 20.0)
    ours = solve_debevec(torch.from_numpy(samples)[None, None], torch.from_numpy(log_times)[None], 20.0)
    np.testing.assert_allclose(ours[0, 0].numpy(), reference, atol=1e-7)


def test_solve_is_batched_and_deterministic() -> None:
    a, lt = gamma_samples(seed=1)
    b, _ = gamma_samples(seed=2)
    batch = torch.from_numpy(np.stack([a, b]))[:, None].expand(2, 3, -1, -1)
    log_times = torch.from_numpy(lt)[None].expand(2, -1)
    g = solve_debevec(batch, log_times)
    assert g.shape == (2, 3, 256) and g.dtype == torch.float64
    single = solve_debevec(torch.from_numpy(b)[None, None], torch.from_numpy(lt)[None])
    torch.testing.assert_close(g[1, 2], single[0, 0], atol=1e-9, rtol=0)
    assert torch.equal(g, solve_debevec(batch, log_times))
    assert (g[..., 128] == 0).all()
    assert (g.diff(dim=-1)[..., 5:250] > 0).all(), "a gamma response must come out monotone"


def test_solve_recovers_gamma_curve() -> None:
    samples, log_times = gamma_samples(400)
    g = solve_debevec(torch.from_numpy(samples)[None, None], torch.from_numpy(log_times)[None], 20.0)[0, 0]
    levels = torch.arange(20, 236, dtype=torch.float64) / 255
    truth = 2.2 * levels.log() - 2.2 * np.log(128 / 255)
    assert (g[20:236] - truth).abs().max() < 0.05


def test_grossberg_samples_are_quantiles() -> None:
    # one exposure is a ramp 0..255: its quantiles are evenly spaced levels
    ramp = torch.arange(256.0).view(1, 1, 1, 16, 16).expand(1, 2, 3, 16, 16) / 255
    samples = sample_grossberg(ramp, 256)
    assert samples.shape == (1, 3, 256, 2)
    assert (samples[0, 0, :, 0] - torch.arange(256)).abs().max() <= 1
    assert samples.diff(dim=2).ge(0).all(), "quantile samples are monotone"


def test_grossberg_equals_brute_force_nearest_cdf() -> None:
    """Every sample is the first level whose CDF is nearest to its quantile (HDR Toolbox's rule)."""
    stack = torch.rand(2, 3, 3, 20, 20) ** 3  # skewed, with empty bins
    stack[0, 1] = 0.5  # a flat image: one level only
    levels = (stack * 255).round().long().flatten(3)
    hist = torch.nn.functional.one_hot(levels, 256).sum(-2).double()
    cdf = hist.cumsum(-1) / hist.sum(-1, keepdim=True)
    quantiles = torch.linspace(0, 1, 64, dtype=torch.float64)
    brute = (cdf[..., None, :] - quantiles[:, None]).abs().argmin(-1).permute(0, 2, 3, 1)
    assert torch.equal(sample_grossberg(stack, 64), brute)


def test_spatial_grid_matches_opencv_layout() -> None:
    rows, cols = spatial_grid(178, 121, 70)
    x_points = int(np.sqrt(70 * 121 / 178))
    y_points = 70 // x_points
    assert len(rows) == x_points * y_points
    assert cols[0] == (121 // x_points) // 2 and rows[0] == (178 // y_points) // 2
    stack = torch.rand(2, 3, 3, 178, 121)
    assert sample_spatial(stack, 70).shape == (2, 3, len(rows), 3)


def test_hat_weights() -> None:
    z = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0])
    torch.testing.assert_close(hat_weights(z), torch.tensor([0.0, 0.5, 1.0, 0.5, 0.0]))


def per_image_counts(levels: torch.Tensor) -> torch.Tensor:
    """Reference histograms: one bincount per image and channel of ``(B, N, C, H, W)`` integer levels."""
    rows = levels.flatten(3).flatten(0, 2)
    return torch.stack([torch.bincount(row, minlength=256) for row in rows]).view(*levels.shape[:3], 256)


def test_level_histograms_round_and_count_every_layout_and_dtype(monkeypatch) -> None:
    """Counts equal a per-row bincount of the nearest level of the exact 255 x, however the stack is given."""
    from ops.crf import level_histograms, quantize

    generator = torch.Generator().manual_seed(0)
    stack = torch.rand(2, 3, 3, 17, 13, generator=generator)
    stack[0, 0, 0, 0, :4] = torch.tensor([0.0, 1.0, 0.5 / 255, 254.5 / 255])
    nearest = torch.from_numpy(np.round(stack.numpy().astype(np.float64) * 255)).long()
    assert torch.equal(quantize(stack), nearest)
    expected = per_image_counts(nearest)
    hwc = stack.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)
    assert torch.equal(level_histograms(stack), expected)
    assert torch.equal(level_histograms(hwc), expected)
    assert torch.equal(level_histograms(quantize(stack).to(torch.uint8)), expected)
    assert torch.equal(level_histograms(stack, chunk=3 * 50), expected)  # many chunks and a tail
    assert torch.equal(level_histograms(stack.double()), expected)


def test_level_histograms_half_precision_and_out_of_range() -> None:
    """float16 / bfloat16 round like float32; values just outside [0, 1] count as level 0 or 255 of their channel."""
    from ops.crf import level_histograms, quantize

    stack = torch.rand(1, 2, 3, 5, 7, generator=torch.Generator().manual_seed(1))
    for dtype in (torch.float16, torch.bfloat16):
        low = stack.to(dtype)
        assert torch.equal(level_histograms(low), per_image_counts(quantize(low)))
    stack[0, 0, 0, 0, 0], stack[0, 0, 1, 0, 0] = 1.003, -0.003
    counts = level_histograms(stack)
    assert (counts.sum(-1) == 35).all(), "every channel keeps its own pixels"
    assert counts[0, 0, 0, 255] >= 1 and counts[0, 0, 1, 0] >= 1
