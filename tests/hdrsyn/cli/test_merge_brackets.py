"""``hdrsyn merge`` on Debevec's real Memorial Church stack."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from hdrsyn.assets_index import memorial_stack
from hdrsyn.io import read_hdr, read_ldr, write_ldr
from hdrsyn import bracket
from hdrsyn.bracket import load_stack, measure_shifts
from hdrsyn.cli.merge_brackets import main
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

    monkeypatch.setattr(bracket, "write_ldr", disk_full)  # the preview, written last
    assert main([*memorial(7, 8, 9), "--ev", "0", "-1", "-2", "-o", str(tmp_path / "m.exr")]) == 2
    assert not list(tmp_path.iterdir()), "no HDR, curve or temporary file is left"


def one_line_error(capsys: pytest.CaptureFixture[str], *names: str) -> None:
    """stderr is one error line (no traceback) naming each of ``names``."""
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("hdrsyn merge: error: "), err
    for name in names:
        assert name in err, err


@pytest.mark.parametrize("how", ["same path", "another path", "a link", "a copy", "re-encoded"])
def test_the_same_photo_twice_is_refused_naming_both(tmp_path: Path, capsys, monkeypatch, how: str) -> None:
    monkeypatch.chdir(tmp_path)
    first = tmp_path / "a.png"
    shutil.copy(MEMORIAL[8], first)
    second = {"same path": first, "another path": Path("sub/../a.png"), "a link": tmp_path / "link.png",
              "a copy": tmp_path / "copy.png", "re-encoded": tmp_path / "b.tif"}[how]
    (tmp_path / "sub").mkdir()
    if how == "a link":
        second.symlink_to(first)
    elif how == "a copy":
        shutil.copy(first, second)
    elif how == "re-encoded":
        write_ldr(second, read_ldr(first))
    assert main([str(first), str(MEMORIAL[9]), str(second), "--ev", "-3", "-4", "-2", "-o", "m.exr"]) == 2
    one_line_error(capsys, str(first), str(second))
    assert not (tmp_path / "m.exr").exists()


def test_an_output_that_would_replace_an_input_is_refused(tmp_path: Path, capsys) -> None:
    photos = [tmp_path / "m_preview.png", tmp_path / "m9.png"]
    shutil.copy(MEMORIAL[8], photos[0])
    shutil.copy(MEMORIAL[9], photos[1])
    before = photos[0].read_bytes()
    assert main([*map(str, photos), "--ev", "-3", "-4", "-o", str(tmp_path / "m.exr"), "--overwrite"]) == 2
    one_line_error(capsys, str(photos[0]), "-o")
    assert photos[0].read_bytes() == before and not (tmp_path / "m.exr").exists()


@pytest.mark.parametrize("name", ["m.png", "m.tif", "m", "m.EXR.txt"])
def test_an_output_that_is_not_exr_or_hdr_is_refused(tmp_path: Path, capsys, name: str) -> None:
    assert main([*memorial(7, 8), "--ev", "-2", "-3", "-o", str(tmp_path / name)]) == 2
    one_line_error(capsys, str(tmp_path / name), ".exr")
    assert not list(tmp_path.iterdir())


SHIFT = (4, -3)  # (dx, dy) in pixels: the displaced exposure's content moves right by 4 and up by 3


def write_stack(folder: Path, shift: tuple[int, int]) -> tuple[list[Path], np.ndarray, np.ndarray]:
    """A synthetic stack of a known radiance, EV -2..+2 through a gamma 2.2 camera, whose EV -1 exposure was
    taken with the camera moved (content displaced by ``shift`` = (dx, dy) pixels): (files, EVs, radiance of
    the reference view)."""
    rng = np.random.default_rng(0)
    coarse = rng.uniform(-5.0, 0.0, (10, 12, 3)).astype(np.float32)
    texture = rng.normal(0.0, 0.3, (140, 170, 3)).astype(np.float32)
    scene = np.exp2(cv2.resize(coarse, (170, 140), interpolation=cv2.INTER_CUBIC) + texture)
    evs = np.arange(-2.0, 3.0)
    files = []
    for ev in evs:
        dx, dy = shift if ev == -1 else (0, 0)
        view = scene[10 - dy : 130 - dy, 10 - dx : 160 - dx]  # view[y + dy, x + dx] = reference[y, x]
        files.append(folder / f"ev{ev:+.0f}.png")
        write_ldr(files[-1], np.clip(view * 2.0**ev, 0, 1) ** (1 / 2.2))
    return files, evs, scene[10:130, 10:160]


def log_error(hdr: np.ndarray, truth: np.ndarray) -> float:
    """Median |ln E - ln E_true| after removing one scale per channel."""
    diff = np.log(hdr.reshape(-1, 3)) - np.log(truth.reshape(-1, 3))
    return float(np.median(np.abs(diff - np.median(diff, axis=0))))


def merge_warnings(capsys: pytest.CaptureFixture[str]) -> list[str]:
    """The warning lines the command printed."""
    return [line for line in capsys.readouterr().err.splitlines() if line.startswith("hdrsyn merge: warning: ")]


def test_a_displaced_exposure_is_measured_and_named(tmp_path: Path, capsys) -> None:
    """The displaced exposure's shift is measured within 0.5 px and named with it; the others measure ~0."""
    files, evs, _ = write_stack(tmp_path, (4, -3))
    shifts = measure_shifts(load_stack(files))
    np.testing.assert_allclose(shifts[1], (4, -3), atol=0.5)
    assert np.abs(np.delete(shifts, 1, axis=0)).max() < 0.5
    assert main([*map(str, files), "--ev", *map(str, evs), "-o", str(tmp_path / "raw.exr")]) == 0
    (warning,) = merge_warnings(capsys)
    assert str(files[1]) in warning and "--align" in warning
    dx, dy = map(float, re.search(r"displaced by \(([-+.\d]+), ([-+.\d]+)\) px", warning).groups())
    assert abs(dx - 4) < 0.5 and abs(dy + 3) < 0.5


def test_align_brings_the_merge_back_to_the_truth(tmp_path: Path, capsys) -> None:
    """Stated: aligning cuts the median log error to the true radiance by 10x at least (measured 0.090 ->
    0.0026, 34x), to below 0.01; the output is the area every exposure shows."""
    files, evs, truth = write_stack(tmp_path, (4, -3))
    args = [*map(str, files), "--ev", *map(str, evs)]
    assert main([*args, "-o", str(tmp_path / "raw.exr")]) == 0
    assert main([*args, "-o", str(tmp_path / "aligned.exr"), "--align"]) == 0
    raw, aligned = read_hdr(tmp_path / "raw.exr"), read_hdr(tmp_path / "aligned.exr")
    assert aligned.shape == (120 - 3, 150 - 4, 3)
    raw_error, aligned_error = log_error(raw, truth), log_error(aligned, truth[3:, :-4])
    assert aligned_error < 0.01 and raw_error > 10 * aligned_error, (raw_error, aligned_error)


@pytest.mark.parametrize("align", [False, True])
def test_an_aligned_stack_merges_without_a_warning(tmp_path: Path, capsys, align: bool) -> None:
    files, evs, truth = write_stack(tmp_path, (0, 0))
    out = tmp_path / "m.exr"
    assert main([*map(str, files), "--ev", *map(str, evs), "-o", str(out), *(["--align"] if align else [])]) == 0
    assert merge_warnings(capsys) == []
    assert read_hdr(out).shape == truth.shape and log_error(read_hdr(out), truth) < 0.01


def test_the_memorial_tripod_stack_merges_without_a_warning(tmp_path: Path, capsys) -> None:
    files, times = memorial_stack()
    assert main([*map(str, files), "--times", *map(str, times), "-o", str(tmp_path / "m.exr")]) == 0
    assert merge_warnings(capsys) == []


def test_overwrite_replaces_earlier_outputs_but_not_a_file_of_yours(stack, tmp_path: Path, capsys) -> None:
    """As reconstruct: --overwrite replaces what a run wrote (the folder's ledger), never the user's own file."""
    files, times = stack
    out = tmp_path / "out" / "m.exr"
    args = [*map(str, files), "-o", str(out), "--times", *map(str, times)]
    assert main(args) == 0
    assert main([*args, "--overwrite"]) == 0  # its own outputs
    (out.with_name("m_crf.png")).write_bytes(b"my own response plot")
    capsys.readouterr()
    with pytest.raises(FileExistsError, match="m_crf.png: not written by an earlier hdrsyn run"):
        bracket.merge_files(files, out, np.asarray(times), overwrite=True)
    assert out.with_name("m_crf.png").read_bytes() == b"my own response plot"
