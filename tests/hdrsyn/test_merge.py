"""``hdrsyn merge`` on Debevec's real Memorial Church stack."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hdrsyn.assets_index import memorial_stack
from hdrsyn.io import read_hdr, read_ldr, write_ldr
from hdrsyn import merge
from hdrsyn.merge import load_stack, main
from ops.hdr_synthesis import synthesize_hdr


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


def test_8bit_files_merge_as_uint8_like_the_float_stack(stack, tmp_path: Path) -> None:
    files, times = stack
    levels = load_stack(files)
    assert levels.dtype == np.uint8 and levels.shape == (8, 178, 121, 3)
    out = tmp_path / "out.exr"
    assert main([*map(str, files), "-o", str(out), "--times", *map(str, times)]) == 0
    floats = torch.from_numpy(levels).permute(0, 3, 1, 2)[None].float() / 255
    expected = synthesize_hdr(floats, torch.tensor(times, dtype=torch.float64)[None])[0][0].permute(1, 2, 0)
    np.testing.assert_allclose(np.log(read_hdr(out)), np.log(expected.numpy()), atol=1e-4)


def test_a_16bit_file_makes_the_stack_float(stack) -> None:
    files, _ = stack
    levels = np.asarray(Image.open(files[1]).convert("RGB"), dtype=np.uint16) * 257  # same values, 16 bits
    write_ldr(files[1], levels, bits=16)
    mixed = load_stack(files)
    assert mixed.dtype == np.float32
    np.testing.assert_array_equal(mixed[0], read_ldr(files[0]))
    np.testing.assert_allclose(mixed[1], levels / 65535, atol=1e-7)


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("one_image", "at least 2 images"),
        ("sizes", "one size"),
        ("unreadable", "broken.png"),
        ("no_exif", "no EXIF ExposureTime"),
        ("count", "8 images but 3 values for --times"),
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


MEMORIAL = memorial_stack()[0][::-1]  # longest exposure first: memorial00 (32 s) .. memorial15


def memorial(*indices: int) -> list[str]:
    """Paths of ``memorial<i>.png``: each index is half the exposure of the one before."""
    return [str(MEMORIAL[i]) for i in indices]


def test_evs_contradicting_the_images_are_refused(tmp_path: Path, capsys) -> None:
    """The issue's case: memorial07..09 halve the exposure each, but the EVs given increase."""
    out = tmp_path / "w.exr"
    assert main([*memorial(7, 8, 9), "--ev", "-4", "-3", "-2", "-o", str(out)]) == 2
    assert "do not match the images" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_times_in_any_order_paired_with_their_images_give_the_same_merge(tmp_path: Path) -> None:
    assert main([*memorial(7, 8, 9), "--ev", "-2", "-3", "-4", "-o", str(tmp_path / "a.exr")]) == 0
    assert main([*memorial(9, 7, 8), "--ev", "-4", "-2", "-3", "-o", str(tmp_path / "b.exr")]) == 0
    np.testing.assert_array_equal(read_hdr(tmp_path / "a.exr"), read_hdr(tmp_path / "b.exr"))


@pytest.mark.parametrize("scale", [0.0, 0.01])
def test_black_or_very_dark_stacks_are_refused(tmp_path: Path, capsys, scale: float) -> None:
    files = []
    for i, path in enumerate(memorial(7, 8, 9)):
        files.append(str(tmp_path / f"dark{i}.png"))
        write_ldr(files[-1], read_ldr(path) * scale)
    assert main([*files, "--ev", "0", "-1", "-2", "-o", str(tmp_path / "out.exr")]) == 2
    assert "nothing to merge" in capsys.readouterr().err and not list(tmp_path.glob("out*"))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--times", "inf", "0.5", "0.25"], "--times values must be finite"),
        (["--times", "1", "nan", "0.25"], "--times values must be finite"),
        (["--times", "1", "-0.5", "0.25"], "finite and positive"),
        (["--ev", "2000", "1", "0"], "--ev values must lie within"),
        (["--ev", "100", "0", "-100"], "overflows a float32 HDR file"),
        (["--ev", "0", "-1", "-2", "--smoothness", "-5"], "--smoothness"),
        (["--ev", "0", "-1", "-2", "--smoothness", "nan"], "--smoothness"),
        (["--ev", "0", "-1", "-2", "--smoothness", "inf"], "--smoothness"),
        (["--ev", "0", "-1", "-2", "--smoothness", "1e308"], "--smoothness"),
    ],
)
def test_bad_options_fail_cleanly_and_a_corrected_rerun_succeeds(tmp_path: Path, capsys, options, message) -> None:
    out = tmp_path / "m.exr"
    assert main([*memorial(7, 8, 9), *options, "-o", str(out)]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not list(tmp_path.iterdir())
    assert main([*memorial(7, 8, 9), "--ev", "0", "-1", "-2", "-o", str(out)]) == 0


def test_a_failed_write_leaves_no_outputs(tmp_path: Path, monkeypatch) -> None:
    def disk_full(path, image) -> None:  # noqa: ANN001
        raise OSError(28, "No space left on device", str(path))

    monkeypatch.setattr(merge, "write_ldr", disk_full)  # the preview, written last
    assert main([*memorial(7, 8, 9), "--ev", "0", "-1", "-2", "-o", str(tmp_path / "m.exr")]) == 2
    assert not list(tmp_path.iterdir()), "no HDR, curve or temporary file is left"
