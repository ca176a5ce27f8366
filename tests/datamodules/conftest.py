"""Tiny datasets in the real VDS and HDR-Eye layouts, written into tmp_path."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from hdrsyn.io import write_hdr, write_ldr
from hdrsyn.render import EVS, EMoR, apply_response, render_stack
from hdrsyn.vds_layout import vds_ldr_name

SHAPE = (40, 48)  # (H, W): not square, so the resize to image_size is exercised


def smooth_hdr(rng: np.random.Generator, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """A smooth random linear HDR image ``(H, W, 3)`` spanning about 8 stops."""
    coarse = rng.uniform(-4.0, 4.0, size=(5, 6, 3)).astype(np.float32)
    return np.exp2(cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC)) * np.float32(0.1)


def write_vds(root: Path, train: int = 3, test: int = 2, seed: int = 0) -> Path:
    """Write a VDS-layout dataset with scenes ``t01..``; the first ``train`` are the training split."""
    rng = np.random.default_rng(seed)
    response = EMoR.load().response()
    for index in range(1, train + test + 1):
        split = "train" if index <= train else "test"
        scene = f"t{index:02d}"
        hdr = smooth_hdr(rng)
        for ev, image in zip(EVS, render_stack(hdr, response)):
            write_ldr(root / f"{split}_set" / scene / vds_ldr_name(scene, ev), image)
        write_hdr(root / f"{split}_hdr_set" / scene / "target_hdr.hdr", hdr)
    return root


def write_hdr_eye(root: Path, scenes: int = 3, exposure: float = 1.5, seed: int = 0) -> Path:
    """Write an HDR-Eye-layout dataset; each LDR is the HDR exposed by ``exposure`` through EMoR's ``f0``."""
    rng = np.random.default_rng(seed)
    response = EMoR.load().response()
    for index in range(1, scenes + 1):
        hdr = smooth_hdr(rng)
        ldr = apply_response(np.clip(hdr * exposure, 0, 1), response)
        write_ldr(root / "images" / "LDR" / f"C{index:02d}_LDR.tif", ldr)
        write_hdr(root / "images" / "HDR" / f"C{index:02d}_HDR.hdr", hdr)
    return root


@pytest.fixture
def vds_root(tmp_path: Path) -> Path:
    """A VDS-layout dataset: 3 training scenes t01-t03, 2 test scenes t04-t05, 48x40 images."""
    return write_vds(tmp_path / "vds")


@pytest.fixture
def hdr_eye_root(tmp_path: Path) -> Path:
    """An HDR-Eye-layout dataset: scenes C01-C03, 48x40 images, LDR = f0(1.5 * HDR)."""
    return write_hdr_eye(tmp_path / "hdr_eye")
