"""``hdrsyn merge`` on Debevec's real Memorial Church stack."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from hdrsyn.assets_index import memorial_stack
from hdrsyn.io import read_hdr, read_ldr
from hdrsyn.merge import main


@pytest.fixture()
def stack(tmp_path: Path) -> tuple[list[Path], list[float]]:
    """Every other Memorial exposure (8 images) copied into tmp_path, with their times."""
    files, times = memorial_stack()
    copies = []
    for path in files[::2]:
        copies.append(tmp_path / path.name)
        shutil.copy(path, copies[-1])
    return copies, times[::2]


def test_merge_writes_hdr_curve_and_preview(stack, tmp_path: Path, capsys) -> None:
    files, times = stack
    out = tmp_path / "out" / "memorial.exr"
    assert main([*map(str, files[::-1]), "-o", str(out), "--times", *map(str, times[::-1])]) == 0
    hdr = read_hdr(out)
    assert hdr.shape == (178, 121, 3) and np.isfinite(hdr).all() and (hdr > 0).all()
    # the stack spans 2^14 in exposure: the merged radiance must span far more than one 8-bit image
    assert np.percentile(hdr, 99.9) / np.percentile(hdr, 0.1) > 1000
    # brighter pixels of the 1/4 s exposure must be brighter in the HDR (monotone mapping)
    quarter = read_ldr(files[times.index(0.25)]).mean(-1)
    order = np.argsort(quarter[quarter < 0.9])
    luminance = hdr.mean(-1)[quarter < 0.9][order]
    assert np.corrcoef(np.arange(len(order)), np.argsort(np.argsort(luminance)))[0, 1] > 0.95
    for suffix in ("_crf.png", "_preview.png"):
        picture = np.asarray(Image.open(out.with_name(f"memorial{suffix}")))
        assert picture.ndim == 3 and picture.std() > 10
    assert "wrote hdr" in capsys.readouterr().out


def test_merge_from_ev_equals_from_times(stack, tmp_path: Path) -> None:
    files, times = stack
    evs = [str(np.log2(t)) for t in times]
    assert main([*map(str, files), "-o", str(tmp_path / "a.hdr"), "--ev", *evs]) == 0
    assert main([*map(str, files), "-o", str(tmp_path / "b.hdr"), "--times", *map(str, times)]) == 0
    np.testing.assert_array_equal(read_hdr(tmp_path / "a.hdr"), read_hdr(tmp_path / "b.hdr"))


def test_merge_reads_exif_exposure_times(stack, tmp_path: Path) -> None:
    files, times = stack
    jpegs = []
    for path, seconds in zip(files, times):
        exif = Image.Exif()
        exif[0x829A] = seconds  # ExposureTime
        jpegs.append(tmp_path / f"{path.stem}.jpg")
        Image.open(path).convert("RGB").save(jpegs[-1], exif=exif, quality=95)
    assert main([*map(str, jpegs), "-o", str(tmp_path / "exif.exr")]) == 0
    assert np.isfinite(read_hdr(tmp_path / "exif.exr")).all()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one_image", "at least 2 images"),
        ("sizes", "one size"),
        ("unreadable", "broken.png"),
        ("no_exif", "no EXIF ExposureTime"),
        ("count", "8 images but 3 exposure values"),
        ("exists", "refusing to overwrite"),
    ],
)
def test_merge_errors_are_clear(stack, tmp_path: Path, capsys, case: str, message: str) -> None:
    files, times = stack
    out = tmp_path / "out.exr"
    args = [*map(str, files), "-o", str(out), "--times", *map(str, times)]
    if case == "one_image":
        args = [str(files[0]), "-o", str(out), "--times", "1"]
    elif case == "sizes":
        Image.open(files[1]).resize((60, 89)).save(files[1])
    elif case == "unreadable":
        (tmp_path / "broken.png").write_bytes(b"not a png")
        args = [str(tmp_path / "broken.png"), *args[1:]]
    elif case == "no_exif":
        args = [*map(str, files), "-o", str(out)]
    elif case == "count":
        args = [*map(str, files), "-o", str(out), "--times", "1", "2", "3"]
    elif case == "exists":
        out.write_bytes(b"keep me")
    assert main(args) == 2
    assert message in capsys.readouterr().err
    if case == "exists":
        assert out.read_bytes() == b"keep me"
