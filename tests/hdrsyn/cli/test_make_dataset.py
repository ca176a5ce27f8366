from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from datamodules.hdr_stack import HDRStackDataModule
from hdrsyn import dataset_builder
from hdrsyn.cli import main as cli_main
from hdrsyn.io import read_hdr, read_ldr, write_hdr
from hdrsyn.cli.make_dataset import main


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
    assert main(args) == 2
    again = tmp_path / "again"
    assert main([str(photos), str(again), *args[2:]]) == 0
    for path in sorted((out / "train_set").rglob("*.png")):
        twin = again / path.relative_to(out)
        np.testing.assert_array_equal(read_ldr(path), read_ldr(twin))


def run(photos: Path, out: Path, *options: str) -> int:
    """``hdrsyn make-dataset photos out`` (2 tiny scenes per photo) through the CLI."""
    return cli_main(["make-dataset", str(photos), str(out), "--crops-per-image", "2", "--size", "16", *options])


def one_line_error(capsys: pytest.CaptureFixture[str], *names: str) -> None:
    """stderr is one error line (no traceback) naming each of ``names``."""
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("hdrsyn make-dataset")]
    assert len(lines) == 1 and lines[0].startswith("hdrsyn make-dataset: error: ") and "Traceback" not in err, err
    for name in names:
        assert name in lines[0], err


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (relative path -> bytes)."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def scenes_on_disk(out: Path) -> dict[str, set[str]]:
    """Split -> scene folders present under ``out``."""
    return {split: {p.name for p in (out / f"{split}_set").iterdir()} for split in ("train", "test")}


def test_overwrite_with_a_new_seed_starts_from_an_empty_dataset(tmp_path: Path, photos: Path) -> None:
    """The issue's case: scenes of the old split stayed, so a photo fed both train and test."""
    out = tmp_path / "dataset"
    assert run(photos, out, "--val-fraction", "0.34", "--seed", "0") == 0
    first = json.loads((out / "manifest.json").read_text())["scenes"]
    for seed in range(1, 6):  # at least one seed holds out another photo
        assert run(photos, out, "--val-fraction", "0.34", "--seed", str(seed), "--overwrite") == 0
        manifest = json.loads((out / "manifest.json").read_text())["scenes"]
        on_disk = scenes_on_disk(out)
        assert on_disk == {split: {s for s, e in manifest.items() if e["split"] == split} for split in on_disk}
        if manifest != first:
            break
    assert manifest != first
    sources = {split: {manifest[s]["source"] for s in scenes} for split, scenes in on_disk.items()}
    assert not sources["train"] & sources["test"]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_a_failed_overwrite_leaves_the_old_dataset_and_no_temporary_folder(tmp_path: Path, photos: Path, capsys,
                                                                        monkeypatch) -> None:
    out = tmp_path / "dataset"
    assert run(photos, out) == 0
    before = snapshot(out)
    calls = []

    def disk_full(path, image) -> None:  # noqa: ANN001
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device", str(path))
        write_hdr(path, image)

    monkeypatch.setattr(dataset_builder, "write_hdr", disk_full)
    assert run(photos, out, "--seed", "7", "--overwrite") == 2
    one_line_error(capsys, "No space left on device")
    assert snapshot(out) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dataset", "photos"]


@pytest.mark.parametrize("content", [None, '{"pairs": []}'])
def test_overwrite_refuses_a_folder_that_is_not_our_dataset(tmp_path: Path, photos: Path, capsys,
                                                            content: str | None) -> None:
    """A user's folder (or another tool's, with its own manifest.json) is never wiped."""
    out = tmp_path / "mine"
    (out / "notes").mkdir(parents=True)
    (out / "notes" / "thesis.tex").write_text("precious")
    if content is not None:
        (out / "manifest.json").write_text(content)
    before = snapshot(out)
    assert run(photos, out, "--overwrite") == 2
    one_line_error(capsys, str(out), "not a dataset made by hdrsyn make-dataset")
    assert snapshot(out) == before


def test_an_empty_existing_folder_is_used(tmp_path: Path, photos: Path) -> None:
    (tmp_path / "empty").mkdir()
    assert run(photos, tmp_path / "empty") == 0
    assert len(json.loads((tmp_path / "empty" / "manifest.json").read_text())["scenes"]) == 6


@pytest.mark.parametrize("where", ["same", "parent", "inside"])
def test_an_output_that_is_holds_or_lies_in_the_input_is_refused(tmp_path: Path, photos: Path, capsys,
                                                                 where: str) -> None:
    out = {"same": photos, "parent": tmp_path, "inside": photos / "dataset"}[where]
    before = snapshot(tmp_path)
    assert run(photos, out, "--overwrite") == 2
    one_line_error(capsys, str(out), "source folder")
    assert snapshot(tmp_path) == before and not (photos / "dataset").exists()


def corrupt(image: np.ndarray, kind: str) -> np.ndarray:
    """``image`` with NaN, +Inf, all zeros or mostly negative values."""
    image = image.copy()
    if kind == "nan":
        image[3, 4, 1] = np.nan
    elif kind == "inf":
        image[0, 0] = np.inf
    elif kind == "zero":
        image[:] = 0
    elif kind == "negative":
        image[: image.shape[0] // 2] *= -1
    return image


@pytest.mark.parametrize(("kind", "message"), [("nan", "NaN or infinite"), ("inf", "NaN or infinite"),
                                               ("zero", "all-black"), ("negative", "negative")])
def test_bad_radiance_is_refused_naming_the_file_before_anything_is_written(tmp_path: Path, photos: Path, capsys,
                                                                            kind: str, message: str) -> None:
    bad = photos / "zz bad.exr"
    write_hdr(bad, corrupt(read_hdr(photos / "pano a.exr"), kind), precision="float")
    assert run(photos, tmp_path / "dataset") == 2
    one_line_error(capsys, str(bad), message)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["photos"]


def test_bad_radiance_leaves_an_existing_dataset_as_it_was(tmp_path: Path, photos: Path, capsys) -> None:
    out = tmp_path / "dataset"
    assert run(photos, out) == 0
    before = snapshot(out)
    write_hdr(photos / "nan.exr", corrupt(read_hdr(photos / "flat.hdr"), "nan"), precision="float")
    assert run(photos, out, "--overwrite") == 2
    one_line_error(capsys, "nan.exr")
    assert snapshot(out) == before


def test_a_few_negative_halos_are_repaired_not_refused(tmp_path: Path, photos: Path) -> None:
    image = read_hdr(photos / "flat.hdr")
    image[5, 5] = -0.5  # one pixel: a resampling halo
    write_hdr(photos / "halo.exr", image, precision="float")
    assert run(photos, tmp_path / "dataset") == 0
    for path in (tmp_path / "dataset").rglob("*.hdr"):
        hdr = read_hdr(path)
        assert np.isfinite(hdr).all() and (hdr >= 0).all() and hdr.max() > 0


def test_an_unreadable_photo_is_an_error_naming_it(tmp_path: Path, photos: Path, capsys) -> None:
    (photos / "broken.exr").write_bytes(b"garbage")
    assert run(photos, tmp_path / "dataset") == 2
    one_line_error(capsys, "broken.exr")
    assert not (tmp_path / "dataset").exists()


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--size", "8"], "--size must be >= 16"), (["--crops-per-image", "0"], "--crops-per-image"),
     (["--val-fraction", "1"], "--val-fraction"), (["--preview", "sheet.exr"], "--preview sheet.exr")],
)
def test_bad_options_are_one_line_errors(tmp_path: Path, photos: Path, capsys, options, message) -> None:
    assert run(photos, tmp_path / "dataset", *options) == 2
    one_line_error(capsys, message)
    assert not (tmp_path / "dataset").exists()


def test_missing_or_empty_source_folder_and_a_file_as_output(tmp_path: Path, photos: Path, capsys) -> None:
    assert run(tmp_path / "none", tmp_path / "out") == 2
    one_line_error(capsys, str(tmp_path / "none"))
    (tmp_path / "empty").mkdir()
    assert run(tmp_path / "empty", tmp_path / "out") == 2
    one_line_error(capsys, str(tmp_path / "empty"))
    (tmp_path / "file").write_text("x")
    assert run(photos, tmp_path / "file") == 2
    one_line_error(capsys, str(tmp_path / "file"))
    assert not (tmp_path / "out").exists() and (tmp_path / "file").read_text() == "x"
