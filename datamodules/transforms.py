"""Paper preprocessing: Lanczos resize, and a random zoom-crop + flip shared by a stack and its HDR."""

from __future__ import annotations

import os

import cv2
import numpy as np

os.environ.setdefault("NO_ALBUMENTATIONS_UPDATE", "1")  # no network check at import (offline clusters)
import albumentations as A  # noqa: E402


def resize(image: np.ndarray, size: int) -> np.ndarray:
    """Resize an ``(H, W, C)`` image to ``size x size`` with Lanczos (``cv2.INTER_LANCZOS4``), as the paper.

    The aspect ratio is not kept (the paper squashes e.g. 1920x1080 HDR-Eye images to 256x256).
    """
    if image.shape[:2] == (size, size):
        return image
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_LANCZOS4)


class StackAugment:
    """Random zoom (rescale ``zoom`` x with bicubic interpolation, crop ``size``) and horizontal flip.

    The same random parameters are applied to every LDR image and to the HDR image of a sample
    (albumentations ``additional_targets``). Bicubic overshoot is removed: LDR images are clipped to
    [0, 1] and the HDR image to >= 0.

    Args:
        size: output side; inputs must already be ``size x size`` (see :func:`resize`).
        num_images: number of LDR images per call.
        zoom: range of the zoom factor (>= 1); ``(1, 1)`` disables the zoom-crop.
        hflip: flip horizontally with probability 0.5.
    """

    def __init__(self, size: int, num_images: int, zoom: tuple[float, float] = (1.0, 2.0), hflip: bool = True) -> None:
        if not 1.0 <= zoom[0] <= zoom[1]:
            raise ValueError(f"zoom must be a range (low, high) with 1 <= low <= high, got {zoom}")
        self.size = size
        self._names = ["image"] + [f"image{i}" for i in range(1, num_images)]
        targets = {name: "image" for name in self._names[1:]} | {"hdr": "image"}
        self.transform = A.Compose(
            [
                A.RandomScale(scale_limit=(zoom[0] - 1, zoom[1] - 1), interpolation=cv2.INTER_CUBIC, p=1.0),
                A.RandomCrop(size, size),
                A.HorizontalFlip(p=0.5 if hflip else 0.0),
            ],
            additional_targets=targets,
        )

    def __call__(self, images: list[np.ndarray], hdr: np.ndarray, seed: int) -> tuple[list[np.ndarray], np.ndarray]:
        """Augment ``images`` (each ``(size, size, 3)`` in [0, 1]) and ``hdr`` with the random state ``seed``."""
        if len(images) != len(self._names):
            raise ValueError(f"expected {len(self._names)} images, got {len(images)}")
        self.transform.set_random_seed(seed)
        out = self.transform(hdr=hdr, **dict(zip(self._names, images)))
        images = [np.clip(out[name], 0.0, 1.0) for name in self._names]
        return images, np.maximum(out["hdr"], 0.0)
