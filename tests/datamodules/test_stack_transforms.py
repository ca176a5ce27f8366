from __future__ import annotations

import cv2
import numpy as np
import pytest

from datamodules.transforms import StackAugment, resize


def test_resize_uses_lanczos() -> None:
    image = np.random.default_rng(0).random((20, 30, 3), dtype=np.float32)
    expected = cv2.resize(image, (16, 16), interpolation=cv2.INTER_LANCZOS4)
    np.testing.assert_array_equal(resize(image, 16), expected)
    assert resize(expected, 16) is expected


def test_same_geometry_for_every_image_and_the_hdr() -> None:
    rng = np.random.default_rng(0)
    base = cv2.resize(rng.random((6, 6, 3), dtype=np.float32), (32, 32), interpolation=cv2.INTER_LINEAR)
    base = 0.1 + 0.8 * base
    images = [base * (0.5 + 0.05 * i) for i in range(8)]
    hdr = base * 40.0
    augment = StackAugment(32, num_images=8)
    changed = 0
    for seed in range(6):
        out, out_hdr = augment(images, hdr, seed)
        reference = out[0] / 0.5
        changed += not np.allclose(reference, base, atol=1e-3)
        for i, image in enumerate(out):
            assert image.shape == (32, 32, 3)
            np.testing.assert_allclose(image / (0.5 + 0.05 * i), reference, atol=1e-5)
        np.testing.assert_allclose(out_hdr / 40.0, reference, rtol=1e-4, atol=1e-5)
        again, _ = augment(images, hdr, seed)
        np.testing.assert_array_equal(again[3], out[3])
    assert changed >= 5  # zoom factors are drawn from (1, 2)


def test_rejects_bad_zoom_and_count() -> None:
    with pytest.raises(ValueError, match="zoom"):
        StackAugment(32, 8, zoom=(0.5, 2.0))
    with pytest.raises(ValueError, match="expected 8 images"):
        StackAugment(32, 8)([np.zeros((32, 32, 3), np.float32)], np.zeros((32, 32, 3), np.float32), 0)
