"""The HDR-Eye dataset (Nemoto et al. 2015): 46 scenes, one real LDR image and a merged HDR each.

HDR-Eye has no 7-image stacks, so, like the stack-based baselines, we render them from the HDR ground
truth with a fixed, documented camera model (:func:`render_hdr_eye_stack`):

- response: the EMoR mean response ``f0`` (the average of the 201 measured DoRF curves), the same for
  the three channels;
- exposure: the scale ``s`` that makes the rendered EV 0 image match the dataset's real LDR image best
  (least mean absolute error over a 1/8-stop grid of +-8 stops around the auto exposure, on a 64x64
  thumbnail); EV ``e`` is exposed ``s * 2**e``;
- clipping to [0, 1], 8-bit rounding, no noise.

The sample's ``hdr`` is the ground truth times ``s``, so ``stack[i] = f0(clip(hdr * 2**ev[i]))`` as for the
other datasets. The input ``ldr`` is the dataset's real LDR image, not the rendered EV 0 image.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from datamodules.base import RawSample, StackDataset, read_or_fail
from datamodules.scenes import OnBadScene, good_scenes, not_found
from datamodules.transforms import resize
from hdrsyn.io import read_hdr, read_ldr
from hdrsyn.render import EMoR, EVS, apply_response, auto_exposure, render_stack

HDR_EYE_TREE = """\
  images/LDR/Cxx_LDR.tif   input LDR images, C01..C46
  images/HDR/Cxx_HDR.hdr   ground-truth HDR images"""

HDR_EYE_SOURCE = (
    "HDR-Eye (Nemoto et al., 2015; 46 scenes) is published by EPFL MMSPG: "
    "https://www.epfl.ch/labs/mmspg/downloads/hdr-eye/"
)


@dataclass(frozen=True)
class HDREyeScene:
    """Files of one scene."""

    name: str
    ldr_path: Path
    hdr_path: Path


def scan_hdr_eye(root: str | Path, on_bad_scene: OnBadScene = "error") -> list[HDREyeScene]:
    """List and check the HDR-Eye scenes (an LDR ``Cxx_LDR.tif`` with its ``Cxx_HDR.hdr`` of equal size)."""
    root = Path(root).expanduser()
    ldr_dir, hdr_dir = root / "images" / "LDR", root / "images" / "HDR"
    for folder in (ldr_dir, hdr_dir):
        if not folder.is_dir():
            raise not_found("HDR-Eye", root, folder, HDR_EYE_TREE, HDR_EYE_SOURCE)
    candidates = [
        HDREyeScene(name, ldr_path, hdr_dir / f"{name}_HDR.hdr")
        for ldr_path in sorted(ldr_dir.glob("*_LDR.tif"))
        for name in [ldr_path.name.removesuffix("_LDR.tif")]
    ]
    scenes = good_scenes(candidates, lambda scene: [scene.ldr_path], on_bad_scene)
    if not scenes:
        raise not_found("HDR-Eye", root, ldr_dir / "C01_LDR.tif", HDR_EYE_TREE, HDR_EYE_SOURCE)
    return scenes


def match_exposure(hdr: np.ndarray, ldr: np.ndarray, response: np.ndarray, stops: float = 8.0) -> float:
    """Exposure scale ``s`` minimising ``mean|f(clip(s * hdr)) - ldr|`` on a 1/8-stop grid (64x64 thumbnails)."""
    small_hdr = cv2.resize(hdr, (64, 64), interpolation=cv2.INTER_AREA)
    small_ldr = cv2.resize(ldr, (64, 64), interpolation=cv2.INTER_AREA)
    base = auto_exposure(small_hdr)
    scales = base * 2.0 ** np.arange(-stops, stops + 1e-9, 0.125)
    errors = [np.abs(apply_response(np.clip(s * small_hdr, 0, 1), response) - small_ldr).mean() for s in scales]
    return float(scales[int(np.argmin(errors))])


def render_hdr_eye_stack(hdr: np.ndarray, ldr: np.ndarray, response: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The stack (uint8 ``(7, H, W, 3)``) and the exposure-scaled HDR of a scene; see the module doc."""
    hdr = np.maximum(hdr, 0.0)
    scaled = hdr * np.float32(match_exposure(hdr, ldr, response))
    return render_stack(scaled, response, EVS), scaled


class HDREyeDataset(StackDataset):
    """HDR-Eye scenes resized to ``image_size`` (Lanczos), with stacks rendered from the HDR.

    Test data: no augmentation. Arguments: see :class:`~datamodules.base.StackDataset`.
    """

    def __init__(
        self,
        scenes: list[HDREyeScene],
        image_size: int = 256,
        edge_sigma: float = 2.0,
        on_bad_scene: OnBadScene = "error",
    ) -> None:
        super().__init__(image_size, None, edge_sigma, on_bad_scene)
        self.scenes = scenes
        self.response = EMoR.load().response()

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, index: int) -> RawSample:
        scene = self.scenes[index]
        ldr = resize(read_or_fail(scene.name, read_ldr, scene.ldr_path), self.image_size)
        hdr = resize(read_or_fail(scene.name, read_hdr, scene.hdr_path), self.image_size)
        stack, hdr = render_hdr_eye_stack(hdr, np.clip(ldr, 0.0, 1.0), self.response)
        return RawSample(scene.name, ldr, stack, hdr)
