import math

import numpy as np
import torch
from torch.autograd import gradcheck

from ops.tonemap import luminance, mu_law, reinhard_global


def reinhard_reference(hdr: np.ndarray, key: float = 0.18) -> np.ndarray:
    """Reinhard et al. 2002, Eq. 1-4, written out with numpy for one (3, H, W) image."""
    lum = 0.2126 * hdr[0] + 0.7152 * hdr[1] + 0.0722 * hdr[2]
    l_avg = np.exp(np.mean(np.log(lum + 1e-6)))
    scaled = key / l_avg * lum
    l_white = scaled.max()
    display = scaled * (1 + scaled / l_white**2) / (1 + scaled)
    return np.clip(hdr * display / (lum + 1e-6), 0, 1)


def test_reinhard_matches_reference() -> None:
    hdr = torch.exp(torch.randn(2, 3, 16, 16, dtype=torch.float64) * 2)
    ours = reinhard_global(hdr)
    for i in range(2):
        np.testing.assert_allclose(ours[i].numpy(), reinhard_reference(hdr[i].numpy()), atol=1e-10)
    assert ours.max() <= 1 and ours.min() >= 0


def test_reinhard_is_scale_invariant_and_differentiable() -> None:
    hdr = torch.exp(torch.randn(1, 3, 6, 6, dtype=torch.float64))
    torch.testing.assert_close(reinhard_global(hdr), reinhard_global(hdr * 1000), rtol=1e-4, atol=1e-5)
    assert gradcheck(lambda x: reinhard_global(x, white=50.0), (hdr.clone().requires_grad_(True),))


def test_mu_law_values_and_grad() -> None:
    x = torch.tensor([0.0, 1.0, 0.5], dtype=torch.float64, requires_grad=True)
    y = mu_law(x, 5000)
    torch.testing.assert_close(y[:2], torch.tensor([0.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(y[2], torch.tensor(math.log1p(2500) / math.log1p(5000), dtype=torch.float64))
    assert gradcheck(lambda v: mu_law(v + 0.1, 100), (x,))


def test_luminance_weights() -> None:
    rgb = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert luminance(rgb).item() == torch.tensor(0.2126).item()
