from __future__ import annotations

import torch

from datamodules.edges import stack_edges
from ops.edges import canny_edges


def test_equals_kornia_canny_with_hysteresis() -> None:
    generator = torch.Generator().manual_seed(0)
    coarse = torch.rand(3, 3, 8, 8, generator=generator)
    images = torch.nn.functional.interpolate(coarse, size=(48, 48), mode="bicubic").clamp(0, 1)
    images = (images + 0.05 * torch.rand(images.shape, generator=generator)).clamp(0, 1)
    for sigma in (1.0, 2.0):
        expected = canny_edges(images, sigma=sigma)
        assert expected.sum() > 0
        torch.testing.assert_close(stack_edges(images, sigma=sigma), expected, rtol=0, atol=0)
