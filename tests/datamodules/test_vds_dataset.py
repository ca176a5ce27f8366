from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from datamodules.scenes import BadSceneError, DatasetNotFoundError
from datamodules.vds import VDSDataset, scan_vds
from hdrsyn.io import read_hdr, read_ldr, write_hdr
from hdrsyn.vds_layout import vds_ldr_name

SIZE = 32


def test_reads_real_layout_into_samples(vds_root: Path) -> None:
    scenes = scan_vds(vds_root, "train")
    assert [s.name for s in scenes] == ["t01", "t02", "t03"]
    assert [s.name for s in scan_vds(vds_root, "test")] == ["t04", "t05"]

    sample = VDSDataset(scenes, image_size=SIZE)[1]
    assert sample["name"] == "t02"
    shapes = {key: tuple(value.shape) for key, value in sample.items() if key != "name"}
    assert shapes == {
        "ldr": (3, SIZE, SIZE),
        "stack": (7, 3, SIZE, SIZE),
        "ev": (7,),
        "hdr": (3, SIZE, SIZE),
        "edges": (7, 1, SIZE, SIZE),
    }
    assert all(value.dtype == torch.float32 for key, value in sample.items() if key != "name")
    assert sample["ev"].tolist() == [-3, -2, -1, 0, 1, 2, 3]
    assert 0 <= sample["stack"].min() and sample["stack"].max() <= 1
    assert sample["hdr"].min() >= 0
    assert set(sample["edges"].unique().tolist()) <= {0.0, 1.0}
    torch.testing.assert_close(sample["ldr"], sample["stack"][3])
    # exposures get brighter with EV
    means = sample["stack"].mean(dim=(1, 2, 3))
    assert torch.all(means[1:] > means[:-1])


def test_resize_is_lanczos_of_the_files(vds_root: Path) -> None:
    sample = VDSDataset(scan_vds(vds_root, "train"), image_size=SIZE)[0]
    ldr = read_ldr(vds_root / "train_set" / "t01" / vds_ldr_name("t01", 0))
    expected = np.clip(cv2.resize(ldr, (SIZE, SIZE), interpolation=cv2.INTER_LANCZOS4), 0, 1)
    np.testing.assert_allclose(sample["ldr"].permute(1, 2, 0).numpy(), expected, atol=1e-6)
    hdr = read_hdr(vds_root / "train_hdr_set" / "t01" / "target_hdr.hdr")
    expected = np.maximum(cv2.resize(hdr, (SIZE, SIZE), interpolation=cv2.INTER_LANCZOS4), 0)
    np.testing.assert_allclose(sample["hdr"].permute(1, 2, 0).numpy(), expected, rtol=1e-6)


@pytest.mark.parametrize("missing", ["", "train_hdr_set"])
def test_missing_root_explains_layout_and_source(tmp_path: Path, vds_root: Path, missing: str) -> None:
    root = tmp_path / "nowhere" if not missing else vds_root
    if missing:
        (root / missing).rename(root / "elsewhere")
    with pytest.raises(DatasetNotFoundError) as info:
        scan_vds(root, "train")
    message = str(info.value)
    assert "train_set/<scene>/<scene>_{-3,-2,-1,0,1,2,3}EV_true.jpg.png" in message
    assert "target_hdr.hdr" in message
    assert "https://github.com/JungHeeKim29/DiffHDRsyn" in message
    assert isinstance(info.value, FileNotFoundError)


def _break(root: Path, problem: str) -> Path:
    """Damage scene t02 of a VDS root; returns the path that must be reported."""
    scene_dir = root / "train_set" / "t02"
    if problem == "missing_ev":
        path = scene_dir / vds_ldr_name("t02", 2)
        path.unlink()
    elif problem == "corrupt":
        path = scene_dir / vds_ldr_name("t02", -1)
        path.write_bytes(b"not an image at all")
    else:  # HDR of another size
        path = root / "train_hdr_set" / "t02" / "target_hdr.hdr"
        write_hdr(path, np.ones((20, 24, 3), np.float32))
    return path


@pytest.mark.parametrize("problem", ["missing_ev", "corrupt", "hdr_size"])
def test_bad_scene_is_reported_with_its_path(vds_root: Path, problem: str) -> None:
    path = _break(vds_root, problem)
    with pytest.raises(BadSceneError) as info:
        scan_vds(vds_root, "train", on_bad_scene="error")
    assert str(path) in str(info.value) and info.value.scene == "t02"

    with pytest.warns(UserWarning, match="t02"):
        scenes = scan_vds(vds_root, "train", on_bad_scene="skip")
    assert [s.name for s in scenes] == ["t01", "t03"]


def test_undecodable_pixels_found_at_load_time(vds_root: Path) -> None:
    path = vds_root / "train_set" / "t02" / vds_ldr_name("t02", 1)
    path.write_bytes(path.read_bytes()[:60])  # header intact, pixel data truncated
    scenes = scan_vds(vds_root, "train")
    with pytest.raises(BadSceneError, match=str(path)):
        VDSDataset(scenes, image_size=SIZE)[1]

    dataset = VDSDataset(scenes, image_size=SIZE, on_bad_scene="skip")
    with pytest.warns(UserWarning, match="t02"):
        assert dataset[1]["name"] == "t03"
    assert dataset[2]["name"] == "t03"
    with pytest.raises(IndexError):
        dataset[3]
