"""The sample format shared by all datasets, and the dataset base class that produces it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import Dataset

from datamodules.scenes import BadSceneError, OnBadScene, handle_bad_scene
from datamodules.transforms import StackAugment
from hdrsyn.io import ImageIOError
from hdrsyn.render import EVS
from ops.edges import canny_edges

#: Index of the reference exposure (EV 0) in the stacks.
REFERENCE_INDEX = EVS.index(0)


class RawSample(NamedTuple):
    """One scene as numpy arrays at the dataset's image size.

    ``ldr`` ``(H, W, 3)`` and ``stack`` ``(7, H, W, 3)`` are float32 in [0, 1] (or uint8), ``hdr``
    ``(H, W, 3)`` is float32 linear RGB.
    """

    name: str
    ldr: np.ndarray
    stack: np.ndarray
    hdr: np.ndarray


class StackDataset(Dataset):
    """Base class: subclasses list scenes and implement :meth:`load`; this class makes the samples.

    A sample is a dict with

    - ``ldr`` ``(3, H, W)``: the input LDR image at the reference exposure (EV 0), float32 in [0, 1];
    - ``stack`` ``(7, 3, H, W)``: the target exposure stack, EV -3..+3, float32 in [0, 1];
    - ``ev`` ``(7,)``: the exposure values (exposure times are ``2**ev``), float32;
    - ``hdr`` ``(3, H, W)``: the ground-truth HDR image, linear, non-negative float32;
    - ``edges`` ``(7, 1, H, W)``: Canny edge maps of the stack (:func:`ops.edges.canny_edges`,
      sigma ``edge_sigma``), in {0, 1};
    - ``name``: the scene name.

    Args:
        image_size: side of the square samples.
        augment: random zoom-crop + flip applied to the LDR, the stack and the HDR alike (None = off).
        edge_sigma: Gaussian sigma of the Canny edge detector (2 in the paper).
        on_bad_scene: a scene whose files cannot be decoded raises :class:`BadSceneError` (``"error"``)
            or is replaced by the next good scene with a warning (``"skip"``).
    """

    def __init__(
        self,
        image_size: int,
        augment: StackAugment | None = None,
        edge_sigma: float = 2.0,
        on_bad_scene: OnBadScene = "error",
    ) -> None:
        if image_size < 16:
            raise ValueError(f"image_size must be >= 16, got {image_size}")
        if augment is not None and augment.size != image_size:
            raise ValueError(f"augment.size {augment.size} differs from image_size {image_size}")
        self.image_size = image_size
        self.augment = augment
        self.edge_sigma = edge_sigma
        self.on_bad_scene = on_bad_scene
        self._bad: set[int] = set()
        self.seed = 0
        self.epoch = 0

    def __len__(self) -> int:
        raise NotImplementedError

    def load(self, index: int) -> RawSample:
        """The scene ``index`` resized to ``image_size``; raises :class:`BadSceneError` if unreadable."""
        raise NotImplementedError

    def __getitem__(self, index: int) -> dict[str, torch.Tensor | str]:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} scenes")
        raw = self._load_good(index % len(self))
        images = [_to_float(raw.ldr), *(_to_float(image) for image in raw.stack)]
        hdr = np.maximum(raw.hdr.astype(np.float32), 0.0)
        if self.augment is not None:
            images, hdr = self.augment(images, hdr, self.augment_seed(index))
        stack = torch.from_numpy(np.stack(images[1:])).permute(0, 3, 1, 2).contiguous()
        return {
            "ldr": torch.from_numpy(images[0]).permute(2, 0, 1).contiguous(),
            "stack": stack,
            "ev": torch.tensor(EVS, dtype=torch.float32),
            "hdr": torch.from_numpy(np.ascontiguousarray(hdr)).permute(2, 0, 1).contiguous(),
            "edges": canny_edges(stack, sigma=self.edge_sigma),
            "name": raw.name,
        }

    def augment_seed(self, index: int) -> int:
        """The augmentation's random state for sample ``index`` in epoch :attr:`epoch`.

        A pure function of (``seed``, ``epoch``, ``index``), independent of workers and of any global
        RNG, so a run resumed from an end-of-epoch checkpoint sees exactly the samples it would have seen.
        """
        return int(np.random.SeedSequence([self.seed, self.epoch, index]).generate_state(1)[0] >> 1)

    def _load_good(self, index: int) -> RawSample:
        """Load scene ``index``; under ``on_bad_scene="skip"`` fall through to the next good scene."""
        for offset in range(len(self)):
            candidate = (index + offset) % len(self)
            if candidate in self._bad:
                continue
            try:
                return self.load(candidate)
            except BadSceneError as error:
                handle_bad_scene(error, self.on_bad_scene)
                self._bad.add(candidate)
        raise RuntimeError(f"no readable scene left in {type(self).__name__} ({len(self)} scenes, all bad)")


def _to_float(image: np.ndarray) -> np.ndarray:
    """An LDR image as float32 in [0, 1] (uint8 is divided by 255)."""
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)
    return np.clip(image.astype(np.float32), 0.0, 1.0)


def read_or_fail(scene: str, read: Callable[[Path], np.ndarray], path: Path) -> np.ndarray:
    """``read(path)``, with :class:`~hdrsyn.io.ImageIOError` turned into :class:`BadSceneError`."""
    try:
        return read(path)
    except ImageIOError as error:
        raise BadSceneError(scene, path, f"cannot decode ({error})") from error
