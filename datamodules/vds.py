"""The VDS dataset (Lee et al. 2018): 96 scenes of real 7-exposure stacks with merged HDR ground truth."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from datamodules.base import REFERENCE_INDEX, RawSample, StackDataset, read_or_fail
from datamodules.scenes import OnBadScene, good_scenes, not_found
from datamodules.transforms import StackAugment, resize
from hdrsyn.io import read_hdr, read_ldr
from hdrsyn.vds_layout import (
    MANIFEST_NAME,
    VDS_TREE,
    hdr_folder,
    ldr_folder,
    scene_hdr_path,
    scene_ldr_paths,
)

VDS_SOURCE = (
    "VDS (Lee et al., ECCV 2018; 48 train + 48 test scenes) is published with the authors' code: "
    "https://github.com/JungHeeKim29/DiffHDRsyn (download link in its README)."
)


@dataclass(frozen=True)
class VDSScene:
    """Files of one scene: the 7 LDR exposures (EV -3..+3) and the HDR."""

    name: str
    ldr_paths: tuple[Path, ...]
    hdr_path: Path


def scan_vds(root: str | Path, split: Literal["train", "test"], on_bad_scene: OnBadScene = "error") -> list[VDSScene]:
    """List and check the scenes of a VDS split (files exist, headers readable, one image size).

    Raises :class:`~datamodules.scenes.DatasetNotFoundError` when the layout is missing and
    :class:`~datamodules.scenes.BadSceneError` for a bad scene unless ``on_bad_scene="skip"``.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    root = Path(root).expanduser()
    ldr_dir, hdr_dir = ldr_folder(root, split), hdr_folder(root, split)
    for folder in (ldr_dir, hdr_dir):
        if not folder.is_dir():
            raise not_found("VDS", root, folder, VDS_TREE, VDS_SOURCE)
    candidates = [
        VDSScene(folder.name, scene_ldr_paths(root, split, folder.name), scene_hdr_path(root, split, folder.name))
        for folder in sorted(p for p in ldr_dir.iterdir() if p.is_dir())
    ]
    scenes = good_scenes(candidates, lambda scene: list(scene.ldr_paths), on_bad_scene)
    if not scenes:
        raise not_found("VDS", root, ldr_dir / "<scene>", VDS_TREE, VDS_SOURCE)
    return scenes


def scene_sources(root: str | Path) -> dict[str, str]:
    """Scene name -> source photo, from the ``manifest.json`` of ``hdrsyn make-dataset`` (empty if absent).

    Scenes cut from the same photo must stay in the same split.
    """
    manifest = Path(root).expanduser() / MANIFEST_NAME
    if not manifest.is_file():
        return {}
    return {name: entry["source"] for name, entry in json.loads(manifest.read_text())["scenes"].items()}


class VDSDataset(StackDataset):
    """VDS scenes resized to ``image_size`` (Lanczos); the input LDR is the EV 0 image of the stack.

    Args:
        scenes: scenes from :func:`scan_vds` (possibly a subset, e.g. a validation split).
        Other arguments: see :class:`~datamodules.base.StackDataset`.
    """

    def __init__(
        self,
        scenes: list[VDSScene],
        image_size: int = 256,
        augment: StackAugment | None = None,
        edge_sigma: float = 2.0,
        on_bad_scene: OnBadScene = "error",
    ) -> None:
        super().__init__(image_size, augment, edge_sigma, on_bad_scene)
        self.scenes = scenes

    def __len__(self) -> int:
        return len(self.scenes)

    def load(self, index: int) -> RawSample:
        scene = self.scenes[index]
        stack = np.stack([resize(read_or_fail(scene.name, read_ldr, p), self.image_size) for p in scene.ldr_paths])
        hdr = resize(read_or_fail(scene.name, read_hdr, scene.hdr_path), self.image_size)
        return RawSample(scene.name, stack[REFERENCE_INDEX], stack, hdr)
