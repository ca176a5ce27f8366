"""Locations of the data bundled with the package (see ``hdrsyn/assets/LICENSE.md``)."""

from __future__ import annotations

from pathlib import Path

ASSETS = Path(__file__).resolve().parent / "assets"
HDRI_DIR = ASSETS / "hdri"
#: The sample's test panoramas: never trained or validated on (``SampleDataset("test")``).
HDRI_TEST_DIR = ASSETS / "hdri_test"
EMOR_FILE = ASSETS / "crf" / "emor.npz"
MEMORIAL_DIR = ASSETS / "stacks" / "memorial"


def memorial_stack() -> tuple[list[Path], list[float]]:
    """Debevec's Memorial Church stack: 16 files, shortest exposure first, and their times in seconds.

    ``memorial00`` was exposed 32 s and each next file half as long (``memorial15`` = 1/1024 s).
    """
    files = sorted(MEMORIAL_DIR.glob("memorial*.png"))
    if len(files) != 16:
        raise FileNotFoundError(f"expected 16 memorial*.png files in {MEMORIAL_DIR}, found {len(files)}")
    times = [32.0 / 2**i for i in range(16)]
    return files[::-1], times[::-1]
