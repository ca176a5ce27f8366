from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datamodules.hdr_stack import HDRStackDataModule
from hdrsyn.io import read_ldr, write_hdr
from hdrsyn.make_dataset import main


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """Three tiny HDR photos: two equirectangular panoramas (.exr, .hdr) and one flat photo."""
    rng = np.random.default_rng(0)
    src = tmp_path / "photos"
    for name, shape in [("pano a.exr", (32, 64)), ("pano_b.hdr", (32, 64)), ("flat.hdr", (30, 40))]:
        write_hdr(src / name, np.exp2(rng.uniform(-5, 5, (*shape, 3))).astype(np.float32))
    return src


def test_round_trip_through_the_vds_reader(tmp_path: Path, photos: Path) -> None:
    out = tmp_path / "dataset"
    preview = tmp_path / "preview.png"
    args = [str(photos), str(out), "--crops-per-image", "2", "--size", "24", "--val-fraction", "0.34"]
    assert main([*args, "--preview", str(preview)]) == 0

    manifest = json.loads((out / "manifest.json").read_text())["scenes"]
    assert len(manifest) == 6
    assert manifest["flat_000"]["panorama"] is False and manifest["pano-a_000"]["panorama"] is True
    test_sources = {entry["source"] for entry in manifest.values() if entry["split"] == "test"}
    train_sources = {entry["source"] for entry in manifest.values() if entry["split"] == "train"}
    assert len(test_sources) == 1 and not test_sources & train_sources

    datamodule = HDRStackDataModule("vds", root=out, image_size=24, num_workers=0, val_fraction=0.5)
    datamodule.setup("fit")
    datamodule.setup("test")
    assert len(datamodule.train_set) + len(datamodule.val_set) == 4 and len(datamodule.test_set) == 2
    sample = datamodule.test_set[0]
    assert sample["stack"].shape == (7, 3, 24, 24)
    means = sample["stack"].mean(dim=(1, 2, 3))
    assert (means[1:] >= means[:-1]).all()

    sheet = read_ldr(preview)
    assert sheet.shape[1] == 8 * 128 and (sheet.shape[0] - 22) % 128 == 0

    # deterministic given the seed; refuses to overwrite without --overwrite
    with pytest.raises(SystemExit):
        main(args)
    again = tmp_path / "again"
    assert main([str(photos), str(again), *args[2:]]) == 0
    for path in sorted((out / "train_set").rglob("*.png")):
        twin = again / path.relative_to(out)
        np.testing.assert_array_equal(read_ldr(path), read_ldr(twin))


def test_unreadable_photo_is_skipped_with_a_warning(tmp_path: Path, photos: Path, capsys) -> None:
    (photos / "broken.exr").write_bytes(b"garbage")
    out = tmp_path / "dataset"
    assert main([str(photos), str(out), "--crops-per-image", "1", "--size", "16"]) == 1
    assert "broken.exr" in capsys.readouterr().err
    assert len(json.loads((out / "manifest.json").read_text())["scenes"]) == 3


def test_empty_source_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main([str(tmp_path), str(tmp_path / "out")])
