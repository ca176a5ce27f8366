import math

import pytest
import torch
from kornia.color import rgb_to_grayscale
from kornia.filters import canny

from ops.edges import canny_edges


def test_step_edge_is_found_once() -> None:
    image = torch.zeros(1, 3, 32, 32)
    image[..., 16:] = 1.0
    edges = canny_edges(image, sigma=2.0)
    assert edges.shape == (1, 1, 32, 32)
    columns = edges[0, 0, 8:24].nonzero()[:, 1].unique()
    assert len(columns) == 1 and abs(columns.item() - 15.5) <= 1
    assert canny_edges(torch.full((1, 1, 32, 32), 0.5)).sum() == 0


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match="B, 3, H, W"):
        canny_edges(torch.rand(1, 2, 8, 8))


def test_cpu_hysteresis_equals_kornia_iterative() -> None:
    """The connected-components hysteresis used on CPU gives kornia's iterative hysteresis bit for bit."""
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(3, 3, 8, 8, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(48, 48), mode="bicubic").clamp(0, 1)
    images = (images + 0.05 * torch.rand(images.shape, generator=generator)).clamp(0, 1)
    for sigma in (1.0, 2.0):
        size = 2 * math.ceil(3 * sigma) + 1
        _, expected = canny(rgb_to_grayscale(images), 0.1, 0.2, (size, size), (sigma, sigma), hysteresis=True)
        assert expected.sum() > 0
        torch.testing.assert_close(canny_edges(images, sigma=sigma), expected, rtol=0, atol=0)
