"""The VDS dataset's file layout (Lee et al. 2018): where a scene's exposures and HDR lie under a root.

Written by ``hdrsyn make-dataset`` and read by :mod:`datamodules.vds`, so it lives here, below both.

Example:
    >>> from pathlib import Path
    >>> scene_hdr_path(Path("vds"), "train", "t01").as_posix()
    'vds/train_hdr_set/t01/target_hdr.hdr'
    >>> vds_ldr_name("t01", -3)
    't01_-3EV_true.jpg.png'
"""

from __future__ import annotations

from pathlib import Path

from hdrsyn.render import EVS

VDS_TREE = """\
  train_set/<scene>/<scene>_{-3,-2,-1,0,1,2,3}EV_true.jpg.png   8-bit exposure stacks
  train_hdr_set/<scene>/target_hdr.hdr                          ground-truth HDR
  test_set/...  test_hdr_set/...                                 the same for the test scenes"""

#: File beside the splits, written by ``hdrsyn make-dataset``: its arguments and each scene's source photo.
MANIFEST_NAME = "manifest.json"


def ldr_folder(root: Path, split: str) -> Path:
    """Folder of the exposure stacks of ``split`` (``"train"`` / ``"test"``), one sub-folder per scene."""
    return root / f"{split}_set"


def hdr_folder(root: Path, split: str) -> Path:
    """Folder of the ground-truth HDR images of ``split``, one sub-folder per scene."""
    return root / f"{split}_hdr_set"


def vds_ldr_name(scene: str, ev: int) -> str:
    """File name of the exposure ``ev`` of ``scene``, e.g. ``t01_-3EV_true.jpg.png``."""
    return f"{scene}_{ev}EV_true.jpg.png"


def scene_ldr_paths(root: Path, split: str, scene: str) -> tuple[Path, ...]:
    """The exposures of ``scene``, EV -3..+3 (:data:`hdrsyn.render.EVS`)."""
    return tuple(ldr_folder(root, split) / scene / vds_ldr_name(scene, ev) for ev in EVS)


def scene_hdr_path(root: Path, split: str, scene: str) -> Path:
    """The ground-truth HDR of ``scene``."""
    return hdr_folder(root, split) / scene / "target_hdr.hdr"
