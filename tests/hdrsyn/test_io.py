"""Tests for hdrsyn.io: round trips, channel layouts, EXIF handling, colour profiles, errors and atomic writes."""

from __future__ import annotations

import contextlib
import errno
import io
import itertools
import struct
import sys
import zlib
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from PIL import ExifTags, Image, ImageCms
from PIL.TiffImagePlugin import IFDRational

from hdrsyn import io as hio
from hdrsyn.io import (
    SRGB_CHROMATICITIES,
    ImageIOError,
    LdrInfo,
    NoSpaceError,
    output_group,
    read_exposure_time,
    read_hdr,
    read_ldr,
    read_ldr_info,
    read_ldr_levels,
    write_hdr,
    write_ldr,
)

HALF_MAX = 65504.0
HALF_MIN_NORMAL = 2.0**-14


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)


@pytest.fixture
def hdr_image(rng: np.random.Generator) -> np.ndarray:
    """Linear RGB spanning 1e-3..1e4; the channels of a pixel are within a factor 2 of each other."""
    level = 10 ** rng.uniform(-3, 4, size=(32, 48, 1))
    return (level * rng.uniform(0.5, 1.0, size=(32, 48, 3))).astype(np.float32)


@pytest.fixture
def ldr_image(rng: np.random.Generator) -> np.ndarray:
    """Random float RGB in [0, 1]."""
    return rng.random((24, 40, 3)).astype(np.float32)


@pytest.fixture
def smooth_image() -> np.ndarray:
    """Smooth RGB gradients in [0, 1] (JPEG-friendly)."""
    y, x = np.mgrid[0:64, 0:96].astype(np.float32)
    return np.stack([x / 95, y / 63, (x + y) / 158], axis=-1)


@pytest.fixture
def good_files(tmp_path: Path, hdr_image: np.ndarray, ldr_image: np.ndarray) -> dict[str, Path]:
    """Valid .exr, .hdr and .png files."""
    files = {ext: tmp_path / f"good{ext}" for ext in (".exr", ".hdr", ".png")}
    write_hdr(files[".exr"], hdr_image)
    write_hdr(files[".hdr"], hdr_image)
    write_ldr(files[".png"], ldr_image)
    return files


def _write_exr_channels(path: Path, channels: dict[str, np.ndarray]) -> None:
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, channels).write(str(path))


def _relative_error(actual: np.ndarray, expected: np.ndarray) -> float:
    return float(np.max(np.abs(actual.astype(np.float64) - expected) / np.abs(expected)))


# --- EXR ---------------------------------------------------------------------------------------


def test_exr_float_round_trip_is_exact(tmp_path: Path, hdr_image: np.ndarray) -> None:
    path = tmp_path / "a.exr"
    write_hdr(path, hdr_image, precision="float")
    out = read_hdr(path)
    assert out.dtype == np.float32 and out.shape == hdr_image.shape
    np.testing.assert_array_equal(out, hdr_image)


def test_exr_half_round_trip_error(tmp_path: Path, rng: np.random.Generator) -> None:
    image = np.exp(rng.uniform(np.log(HALF_MIN_NORMAL), np.log(HALF_MAX), size=(32, 32, 3))).astype(np.float32)
    path = tmp_path / "a.exr"
    write_hdr(path, image)
    out = read_hdr(path)
    assert out.dtype == np.float32
    assert _relative_error(out, image) <= 2**-11  # round to nearest with a 10-bit mantissa
    np.testing.assert_array_equal(out, image.astype(np.float16).astype(np.float32))


def test_exr_written_with_zip_and_requested_pixel_type(tmp_path: Path, hdr_image: np.ndarray) -> None:
    for precision, dtype in (("half", np.float16), ("float", np.float32)):
        path = tmp_path / f"{precision}.exr"
        write_hdr(path, hdr_image, precision=precision)
        exr = OpenEXR.File(str(path), separate_channels=True)
        assert exr.header()["compression"] == OpenEXR.ZIP_COMPRESSION
        assert {name: ch.pixels.dtype for name, ch in exr.channels().items()} == dict.fromkeys("RGB", dtype)


def test_exr_beyond_half_range(tmp_path: Path) -> None:
    image = np.full((2, 3, 3), 1.0, dtype=np.float32)
    image[0, 0] = [1e5, -1e5, HALF_MAX]
    with pytest.warns(RuntimeWarning, match="overflow"):
        write_hdr(tmp_path / "half.exr", image, precision="half")
    half = read_hdr(tmp_path / "half.exr")
    np.testing.assert_array_equal(half[0, 0], [np.inf, -np.inf, HALF_MAX])
    write_hdr(tmp_path / "float.exr", image, precision="float")
    np.testing.assert_array_equal(read_hdr(tmp_path / "float.exr"), image)


def test_exr_keeps_negative_nan_inf(tmp_path: Path) -> None:
    image = np.array([[[-0.5, np.nan, np.inf], [-np.inf, 0.0, 2.0]]], dtype=np.float32)
    write_hdr(tmp_path / "a.exr", image, precision="float")
    np.testing.assert_array_equal(read_hdr(tmp_path / "a.exr"), image)  # NaNs compare equal here


def test_exr_separate_rgb_channels(tmp_path: Path, hdr_image: np.ndarray) -> None:
    path = tmp_path / "rgb.exr"
    _write_exr_channels(path, {name: hdr_image[..., i].copy() for i, name in enumerate("RGB")})
    np.testing.assert_array_equal(read_hdr(path), hdr_image)


def test_exr_combined_rgb_channel(tmp_path: Path, hdr_image: np.ndarray) -> None:
    path = tmp_path / "rgb.exr"
    _write_exr_channels(path, {"RGB": hdr_image})
    np.testing.assert_array_equal(read_hdr(path), hdr_image)


def test_exr_rgba_mixed_pixel_types_drops_alpha(tmp_path: Path, hdr_image: np.ndarray) -> None:
    path = tmp_path / "rgba.exr"
    channels = {name: hdr_image[..., i].copy() for i, name in enumerate("RGB")}
    channels["A"] = np.full(hdr_image.shape[:2], 0.25, dtype=np.float16)
    _write_exr_channels(path, channels)
    out = read_hdr(path)
    assert out.shape == hdr_image.shape
    np.testing.assert_array_equal(out, hdr_image)


def test_exr_single_y_channel_replicated(tmp_path: Path, hdr_image: np.ndarray) -> None:
    path = tmp_path / "y.exr"
    luminance = hdr_image[..., 1].astype(np.float16)
    _write_exr_channels(path, {"Y": luminance})
    out = read_hdr(path)
    assert out.shape == hdr_image.shape and out.dtype == np.float32
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], luminance.astype(np.float32))


def test_exr_without_colour_channels_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "depth.exr"
    _write_exr_channels(path, {"Z": np.ones((4, 4), dtype=np.float32)})
    with pytest.raises(ImageIOError, match=r"found \['Z'\]") as info:
        read_hdr(path)
    assert str(path) in str(info.value)


# --- Radiance .hdr -----------------------------------------------------------------------------


def test_radiance_round_trip_grey(tmp_path: Path, rng: np.random.Generator) -> None:
    """Grey pixels over 7 decades: every channel is the pixel maximum, relative error <= 2**-7."""
    level = (10 ** rng.uniform(-3, 4, size=(32, 48, 1))).astype(np.float32)
    image = np.repeat(level, 3, axis=-1)
    path = tmp_path / "a.hdr"
    write_hdr(path, image)
    out = read_hdr(path)
    assert out.dtype == np.float32 and out.shape == image.shape
    assert _relative_error(out, image) <= 2**-7


def test_radiance_error_is_relative_to_pixel_maximum(tmp_path: Path, hdr_image: np.ndarray) -> None:
    """RGBE shares one exponent per pixel and OpenCV truncates the 8-bit mantissas on write.

    So values only come back smaller, by at most 2**-7 of the pixel's largest channel (a channel at
    half the maximum can be off by 2**-6 of its own value).
    """
    assert hdr_image.min() < 2e-3 and hdr_image.max() > 5e3  # several decades
    write_hdr(tmp_path / "a.hdr", hdr_image)
    out = read_hdr(tmp_path / "a.hdr")
    error = (hdr_image.astype(np.float64) - out) / hdr_image.max(axis=-1, keepdims=True)
    assert 0 <= error.min() and error.max() <= 2**-7
    assert _relative_error(out, hdr_image) <= 2**-6


def test_radiance_rewrite_is_idempotent(tmp_path: Path, hdr_image: np.ndarray) -> None:
    write_hdr(tmp_path / "1.hdr", hdr_image)
    first = read_hdr(tmp_path / "1.hdr")
    write_hdr(tmp_path / "2.hdr", first)
    np.testing.assert_array_equal(read_hdr(tmp_path / "2.hdr"), first)
    assert (tmp_path / "1.hdr").read_bytes() == (tmp_path / "2.hdr").read_bytes()


def test_radiance_rgb_order(tmp_path: Path) -> None:
    image = np.zeros((2, 2, 3), dtype=np.float32)
    image[..., 0] = 4.0  # red only
    write_hdr(tmp_path / "red.hdr", image)
    np.testing.assert_array_equal(read_hdr(tmp_path / "red.hdr")[0, 0], [4.0, 0.0, 0.0])


def test_hdr_uppercase_extension_and_parent_creation(tmp_path: Path, hdr_image: np.ndarray) -> None:
    path = tmp_path / "new" / "dir" / "A.EXR"
    write_hdr(path, hdr_image, precision="float")
    np.testing.assert_array_equal(read_hdr(path), hdr_image)


# --- LDR ---------------------------------------------------------------------------------------


def test_png_8bit_exact(tmp_path: Path, ldr_image: np.ndarray) -> None:
    path = tmp_path / "a.png"
    write_ldr(path, ldr_image)
    out = read_ldr(path)
    assert out.dtype == np.float32 and out.shape == ldr_image.shape
    np.testing.assert_array_equal(np.rint(out * 255), np.rint(ldr_image * 255))
    assert np.abs(out - ldr_image).max() <= 0.5 / 255 + 1e-7


def test_png_16bit_exact(tmp_path: Path, rng: np.random.Generator) -> None:
    levels = rng.integers(0, 65536, size=(20, 30, 3), dtype=np.uint16)
    levels[0, 0] = [1000, 1, 65535]
    path = tmp_path / "a.png"
    write_ldr(path, levels.astype(np.float32) / 65535, bits=16)
    assert cv2.imread(str(path), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    out = read_ldr(path)
    np.testing.assert_array_equal(np.rint(out * 65535), levels)
    assert out[0, 0, 0] == np.float32(1000 / 65535)


def test_png_16bit_from_uint16_as_is(tmp_path: Path) -> None:
    levels = np.array([[[1000, 2000, 3000], [0, 65535, 7]]], dtype=np.uint16)
    write_ldr(tmp_path / "a.png", levels, bits=16)
    np.testing.assert_array_equal(np.rint(read_ldr(tmp_path / "a.png") * 65535), levels)


@pytest.mark.parametrize(("ext", "dtype"), [(".png", np.uint8), (".png", np.uint16), (".tif", np.uint16)])
def test_levels_keep_the_file_depth(tmp_path: Path, rng: np.random.Generator, ext: str, dtype: type) -> None:
    levels = rng.integers(0, np.iinfo(dtype).max + 1, size=(6, 5, 3)).astype(dtype)
    path = tmp_path / f"a{ext}"
    write_ldr(path, levels, bits=np.iinfo(dtype).bits)
    out = read_ldr_levels(path)
    assert out.dtype == dtype
    np.testing.assert_array_equal(out, levels)
    np.testing.assert_array_equal(read_ldr(path), levels.astype(np.float32) / np.iinfo(dtype).max)


def test_float_input_is_clipped_and_rounded(tmp_path: Path) -> None:
    image = np.array([[-0.5, 2.0, 0.5, 1 / 255 * 0.49]], dtype=np.float64)
    write_ldr(tmp_path / "a.png", image)
    np.testing.assert_array_equal(read_ldr(tmp_path / "a.png")[0, :, 0] * 255, [0, 255, 128, 0])


def test_grayscale_png_replicated(tmp_path: Path, ldr_image: np.ndarray) -> None:
    grey = ldr_image[..., 0]
    write_ldr(tmp_path / "g.png", grey)
    assert cv2.imread(str(tmp_path / "g.png"), cv2.IMREAD_UNCHANGED).ndim == 2
    out = read_ldr(tmp_path / "g.png")
    assert out.shape == (*grey.shape, 3)
    for c in range(3):
        np.testing.assert_array_equal(np.rint(out[..., c] * 255), np.rint(grey * 255))


def test_grayscale_16bit_png_replicated(tmp_path: Path) -> None:
    levels = np.array([[1000, 40000], [1, 65535]], dtype=np.uint16)
    write_ldr(tmp_path / "g.png", levels, bits=16)
    out = read_ldr(tmp_path / "g.png")
    np.testing.assert_array_equal(np.rint(out * 65535), np.repeat(levels[..., None], 3, axis=-1))


def test_rgba_png_drops_alpha(tmp_path: Path, rng: np.random.Generator) -> None:
    rgba = rng.integers(0, 256, size=(8, 10, 4), dtype=np.uint8)
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    out = read_ldr(tmp_path / "a.png")
    assert out.shape == (8, 10, 3)
    np.testing.assert_array_equal(np.rint(out * 255), rgba[..., :3])


def test_grey_alpha_png_drops_alpha(tmp_path: Path) -> None:
    la = np.stack([np.full((4, 5), 10, np.uint8), np.full((4, 5), 200, np.uint8)], axis=-1)
    Image.fromarray(la, "LA").save(tmp_path / "a.png")
    np.testing.assert_array_equal(np.rint(read_ldr(tmp_path / "a.png") * 255), np.full((4, 5, 3), 10))


def test_rgba_16bit_png_drops_alpha(tmp_path: Path) -> None:
    rgba = np.array([[[1000, 2000, 3000, 10], [4, 5, 6, 65535]]], dtype=np.uint16)
    cv2.imwrite(str(tmp_path / "a.png"), rgba[..., [2, 1, 0, 3]])  # OpenCV expects BGRA
    np.testing.assert_array_equal(np.rint(read_ldr(tmp_path / "a.png") * 65535), rgba[..., :3])


def test_jpeg_round_trip_within_few_levels(tmp_path: Path, smooth_image: np.ndarray) -> None:
    path = tmp_path / "a.jpg"
    write_ldr(path, smooth_image)
    out = read_ldr(path)
    assert out.shape == smooth_image.shape and out.dtype == np.float32
    error = np.abs(out - smooth_image) * 255
    assert error.max() <= 4 and error.mean() <= 1


@pytest.mark.parametrize("bits", [8, 16])
@pytest.mark.parametrize("ext", [".tif", ".tiff", ".TIF"])
def test_tiff_exact(tmp_path: Path, rng: np.random.Generator, bits: int, ext: str) -> None:
    top = 2**bits - 1
    levels = rng.integers(0, top + 1, size=(12, 14, 3))
    path = tmp_path / f"a{ext}"
    write_ldr(path, (levels / top).astype(np.float32), bits=bits)
    np.testing.assert_array_equal(np.rint(read_ldr(path) * top), levels)


def _oriented_image() -> np.ndarray:
    """A 32x48 black uint8 RGB image with a white 16x16 top-left block."""
    image = np.zeros((32, 48, 3), dtype=np.uint8)
    image[:16, :16] = 255
    return image


def _save_with_exif(image: np.ndarray, path: Path, exif: Image.Exif) -> None:
    Image.fromarray(image).save(path, exif=exif, quality=95)


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_exif_orientation_6_is_applied(tmp_path: Path, ext: str) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6  # stored image must be rotated 90 degrees clockwise for display
    image = _oriented_image()
    _save_with_exif(image, tmp_path / f"o6{ext}", exif)
    out = read_ldr(tmp_path / f"o6{ext}")
    expected = np.rot90(image, k=-1).astype(np.float32) / 255
    assert out.shape == (48, 32, 3)
    assert np.abs(out - expected).max() <= 0.1  # JPEG ringing at the block edges
    assert out[:16, -16:].min() > 0.9 and out[:, :16].max() < 0.1


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_read_exposure_time(tmp_path: Path, ext: str) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] = IFDRational(1, 250)
    exif[ExifTags.Base.ExposureTime] = IFDRational(1, 250)  # Pillow's TIFF writer keeps only IFD0
    _save_with_exif(_oriented_image(), tmp_path / f"e{ext}", exif)
    assert read_exposure_time(tmp_path / f"e{ext}") == pytest.approx(1 / 250)


def test_read_exposure_time_from_exif_ifd_only(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif.get_ifd(ExifTags.IFD.Exif)[ExifTags.Base.ExposureTime] = IFDRational(1, 30)
    _save_with_exif(_oriented_image(), tmp_path / "e.jpg", exif)
    assert read_exposure_time(tmp_path / "e.jpg") == pytest.approx(1 / 30)


def test_read_exposure_time_absent(tmp_path: Path) -> None:
    write_ldr(tmp_path / "plain.jpg", _oriented_image())
    assert read_exposure_time(tmp_path / "plain.jpg") is None


# --- errors ------------------------------------------------------------------------------------


def _assert_names(info: pytest.ExceptionInfo[ImageIOError], path: Path) -> None:
    assert isinstance(info.value, OSError)
    assert str(path) in str(info.value)


@pytest.mark.parametrize(
    "reader, name",
    [(read_hdr, "missing.exr"), (read_hdr, "missing.hdr"), (read_ldr, "missing.png"), (read_exposure_time, "m.jpg")],
)
def test_missing_file(tmp_path: Path, reader, name: str) -> None:
    path = tmp_path / name
    with pytest.raises(ImageIOError, match="no such file") as info:
        reader(path)
    _assert_names(info, path)


@pytest.mark.parametrize("ext", [".exr", ".hdr", ".png"])
@pytest.mark.parametrize("keep", [0.5, 0.95])
def test_truncated_file(tmp_path: Path, good_files: dict[str, Path], ext: str, keep: float) -> None:
    data = good_files[ext].read_bytes()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(data[: int(len(data) * keep)])
    reader = read_ldr if ext == ".png" else read_hdr
    with pytest.raises(ImageIOError) as info:
        reader(path)
    _assert_names(info, path)


def test_truncated_jpeg(tmp_path: Path, smooth_image: np.ndarray) -> None:
    write_ldr(tmp_path / "a.jpg", smooth_image)
    data = (tmp_path / "a.jpg").read_bytes()
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageIOError, match="truncated") as info:
        read_ldr(path)
    _assert_names(info, path)


@pytest.mark.parametrize("reader, name", [(read_ldr, "text.png"), (read_ldr, "text.jpg"), (read_hdr, "text.exr"),
                                          (read_hdr, "text.hdr"), (read_exposure_time, "text.jpg")])
def test_text_file_with_image_extension(tmp_path: Path, reader, name: str) -> None:
    path = tmp_path / name
    path.write_text("this is not an image\n")
    with pytest.raises(ImageIOError) as info:
        reader(path)
    _assert_names(info, path)


def test_wrong_kind_of_content(tmp_path: Path, good_files: dict[str, Path]) -> None:
    png_named_hdr = tmp_path / "png.hdr"
    png_named_hdr.write_bytes(good_files[".png"].read_bytes())
    with pytest.raises(ImageIOError, match="not a Radiance") as info:
        read_hdr(png_named_hdr)
    _assert_names(info, png_named_hdr)
    hdr_named_png = tmp_path / "hdr.png"
    hdr_named_png.write_bytes(good_files[".hdr"].read_bytes())
    with pytest.raises(ImageIOError, match="not an image in a supported format") as info:
        read_ldr(hdr_named_png)
    _assert_names(info, hdr_named_png)


@pytest.mark.parametrize(
    "func, name",
    [
        (read_ldr, "a.gif"),
        (read_ldr, "a.exr"),
        (read_hdr, "a.png"),
        (read_hdr, "noext"),
        (read_exposure_time, "a.exr"),
        (lambda p: write_ldr(p, np.zeros((2, 2, 3))), "a.webp"),
        (lambda p: write_hdr(p, np.zeros((2, 2, 3))), "a.pfm"),
    ],
)
def test_unknown_extension(tmp_path: Path, func, name: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    with pytest.raises(ImageIOError, match="unsupported extension") as info:
        func(path)
    _assert_names(info, path)
    listed = str(info.value).split("expected one of ")[1]
    assert listed in {", ".join(exts) for exts in (hio.LDR_EXTENSIONS, hio.LDR_WRITE_EXTENSIONS, hio.HDR_EXTENSIONS)}


@pytest.mark.parametrize(
    "func, name, image",
    [
        (write_hdr, "a.exr", np.zeros((4, 4), np.float32)),
        (write_hdr, "a.hdr", np.zeros((4, 4, 4), np.float32)),
        (write_hdr, "a.exr", np.zeros((4, 4, 3), np.uint8)),
        (write_ldr, "a.png", np.zeros((4, 4, 4), np.float32)),
        (write_ldr, "a.png", np.zeros((4, 4, 3), np.int32)),
        (write_ldr, "a.png", np.zeros((4, 4, 3), np.uint16)),  # uint16 with the default bits=8
        (write_ldr, "a.png", np.full((4, 4, 3), np.nan, np.float32)),
        (lambda p, x: write_ldr(p, x, bits=16), "a.jpg", np.zeros((4, 4, 3), np.float32)),
    ],
)
def test_bad_write_input(tmp_path: Path, func, name: str, image: np.ndarray) -> None:
    path = tmp_path / "sub" / name
    with pytest.raises(ImageIOError) as info:
        func(path, image)
    _assert_names(info, path)
    assert not path.parent.exists()


def test_bad_write_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="precision"):
        write_hdr(tmp_path / "a.exr", np.zeros((2, 2, 3)), precision="double")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="bits"):
        write_ldr(tmp_path / "a.png", np.zeros((2, 2, 3)), bits=12)  # type: ignore[arg-type]


# --- atomic writes -----------------------------------------------------------------------------


@pytest.fixture
def existing(tmp_path: Path) -> tuple[Path, bytes]:
    """A pre-existing destination file and its bytes."""
    path = tmp_path / "out" / "dest.png"
    path.parent.mkdir()
    write_ldr(path, np.full((4, 4, 3), 0.5))
    return path, path.read_bytes()


def test_failing_write_leaves_destination_and_no_temp(
    existing: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch, ldr_image: np.ndarray
) -> None:
    path, before = existing
    seen: list[Path] = []

    def half_written(tmp: Path, data: bytes) -> None:
        seen.append(tmp)
        tmp.write_bytes(bytes(data)[:10])
        raise OSError(errno.EIO, "disk on fire")

    monkeypatch.setattr(hio, "_write_file", half_written)
    with pytest.raises(ImageIOError, match="disk on fire") as info:
        write_ldr(path, ldr_image)
    _assert_names(info, path)
    assert seen and seen[0].parent == path.parent and seen[0].suffix == ".png"
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["dest.png"]


def test_failing_exr_encoder_leaves_no_temp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hdr_image: np.ndarray
) -> None:
    def broken(tmp: Path, channels: dict[str, np.ndarray]) -> None:
        tmp.write_bytes(b"v/1\x01partial")
        raise RuntimeError("encoder crashed")

    monkeypatch.setattr(hio, "_write_exr", broken)
    path = tmp_path / "a.exr"
    with pytest.raises(ImageIOError, match="encoder crashed"):
        write_hdr(path, hdr_image)
    assert list(tmp_path.iterdir()) == []


def test_failing_rename_leaves_destination_and_no_temp(
    existing: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch, ldr_image: np.ndarray
) -> None:
    path, before = existing

    def no_replace(src: str, dst: str) -> None:
        assert Path(src).stat().st_size > 0  # the temporary file was fully written
        raise PermissionError("read-only destination")

    monkeypatch.setattr(hio.os, "replace", no_replace)
    with pytest.raises(ImageIOError, match="read-only destination") as info:
        write_ldr(path, ldr_image)
    _assert_names(info, path)
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["dest.png"]


def test_bad_shape_leaves_destination(existing: tuple[Path, bytes]) -> None:
    path, before = existing
    with pytest.raises(ImageIOError):
        write_ldr(path, np.zeros((4, 4, 2), np.float32))
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["dest.png"]


def test_successful_write_replaces_destination(existing: tuple[Path, bytes], ldr_image: np.ndarray) -> None:
    path, before = existing
    write_ldr(path, ldr_image)
    assert path.read_bytes() != before
    assert sorted(p.name for p in path.parent.iterdir()) == ["dest.png"]
    assert read_ldr(path).shape == ldr_image.shape


def test_output_group_commits_all_or_nothing(tmp_path: Path) -> None:
    paths = [tmp_path / "out" / "x.exr", tmp_path / "out" / "x_preview.png"]
    with pytest.raises(RuntimeError, match="encoder failed"), output_group(paths) as staged:
        staged[paths[0]].write_bytes(b"hdr")
        raise RuntimeError("encoder failed")
    assert not list((tmp_path / "out").iterdir()), "neither file nor temporary is left"
    with output_group(paths) as staged:
        for path in paths:
            staged[path].write_bytes(b"first")
    assert [p.read_bytes() for p in paths] == [b"first", b"first"]


@pytest.mark.parametrize("overwrite", [False, True])
def test_output_groups_racing_into_one_folder_never_mix(tmp_path: Path, overwrite: bool) -> None:
    """Run A checks and encodes, run B commits the same names meanwhile, then A commits: refused or whole."""
    paths = [tmp_path / "x.exr", tmp_path / "x_preview.png"]
    with contextlib.ExitStack() as run_a:
        if not overwrite:
            run_a.enter_context(pytest.raises(FileExistsError, match="refusing to overwrite"))
        staged_a = run_a.enter_context(output_group(paths, overwrite))
        for path in paths:
            staged_a[path].write_bytes(b"A")
        with output_group(paths, overwrite) as staged_b:
            for path in paths:
                staged_b[path].write_bytes(b"B")
    assert {p.read_bytes() for p in paths} == ({b"A"} if overwrite else {b"B"})
    assert sorted(tmp_path.iterdir()) == sorted(paths), "no temporary is left"


# --- disk full ---------------------------------------------------------------------------------


def _disk_full(code: int = errno.ENOSPC) -> object:
    """A stand-in for ``hio._write_file`` that writes part of the data, then finds the disk full."""

    def write(tmp: Path, data: bytes) -> None:
        tmp.write_bytes(bytes(data)[:10])
        raise OSError(code, "No space left on device")

    return write


@pytest.mark.parametrize("name", ["dest.png", "dest.jpg", "dest.tif", "dest.exr", "dest.hdr"])
def test_disk_full_names_folder_and_final_file(
    existing: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    path = existing[0].with_name(name)
    monkeypatch.setattr(hio, "_write_file", _disk_full())
    with pytest.raises(NoSpaceError) as info:
        (write_hdr if name.endswith(("exr", "hdr")) else write_ldr)(path, np.full((4, 4, 3), 0.5))
    assert str(info.value) == f"no space left on {path.parent} writing {name}"
    assert info.value.errno == errno.ENOSPC and info.value.paths == (path,)
    assert isinstance(info.value, ImageIOError)
    assert sorted(p.name for p in path.parent.iterdir()) == ["dest.png"], "no temporary, no partial file"
    assert existing[0].read_bytes() == existing[1]


def test_quota_exceeded_in_atomic_write(tmp_path: Path) -> None:
    def over_quota(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError(errno.EDQUOT, "Disk quota exceeded")

    with pytest.raises(NoSpaceError, match=rf"^disk quota exceeded on {tmp_path} writing table\.csv$"):
        hio.atomic_write(tmp_path / "table.csv", over_quota)
    assert list(tmp_path.iterdir()) == []


def test_disk_full_in_output_group_names_the_final_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """write_ldr into a group's temporary runs out of space: the error names the group's file, not a temporary."""
    paths = [tmp_path / "out" / "x.exr", tmp_path / "out" / "x_preview.png"]
    with pytest.raises(NoSpaceError) as info, output_group(paths) as staged:
        write_hdr(staged[paths[0]], np.ones((4, 4, 3), np.float32))
        monkeypatch.setattr(hio, "_write_file", _disk_full())
        write_ldr(staged[paths[1]], np.ones((4, 4, 3), np.float32))
    assert str(info.value) == f"no space left on {tmp_path / 'out'} writing x_preview.png"
    assert info.value.paths == (paths[1],)
    assert list((tmp_path / "out").iterdir()) == []


def test_disk_full_unattributed_in_output_group_names_the_group(tmp_path: Path) -> None:
    paths = [tmp_path / "x.exr", tmp_path / "x_preview.png"]
    with pytest.raises(NoSpaceError, match=rf"^no space left on {tmp_path} writing x\.exr, x_preview\.png$"):
        with output_group(paths) as staged:
            staged[paths[0]].write_bytes(b"part")
            raise OSError(errno.ENOSPC, "No space left on device")  # as a plain write() reports it: no file name
    assert list(tmp_path.iterdir()) == []


def test_writers_encode_in_memory_and_write_with_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cv2.imwrite and OpenEXR's file writer report no error on a full disk (/dev/full): neither is used."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("a file writer that hides a full disk was called")

    monkeypatch.setattr(cv2, "imwrite", refuse)
    monkeypatch.setattr(OpenEXR.File, "write", lambda self, target: refuse() if isinstance(target, str) else None)
    write_ldr(tmp_path / "a.png", np.zeros((2, 2, 3)))
    write_hdr(tmp_path / "a.hdr", np.ones((2, 2, 3)))
    write_hdr(tmp_path / "a.exr", np.ones((2, 2, 3)))


# --- primaries of HDR files --------------------------------------------------------------------


@pytest.mark.parametrize("precision", ["half", "float"])
def test_exr_records_srgb_chromaticities(tmp_path: Path, hdr_image: np.ndarray, precision: str) -> None:
    write_hdr(tmp_path / "a.exr", hdr_image, precision=precision)
    chromaticities = OpenEXR.File(str(tmp_path / "a.exr")).header()["chromaticities"]
    np.testing.assert_allclose(chromaticities, (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290), atol=1e-7)
    assert OpenEXR.chromaticitiesToColorInteropID(chromaticities) == "lin_rec709_scene"


def test_radiance_records_srgb_primaries(tmp_path: Path, hdr_image: np.ndarray) -> None:
    write_hdr(tmp_path / "a.hdr", hdr_image)
    lines = (tmp_path / "a.hdr").read_bytes().split(b"\n")
    assert lines[:3] == [b"#?RADIANCE", b"PRIMARIES=0.6400 0.3300 0.3000 0.6000 0.1500 0.0600 0.3127 0.3290",
                         b"FORMAT=32-bit_rle_rgbe"]
    assert SRGB_CHROMATICITIES == (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)
    assert _relative_error(read_hdr(tmp_path / "a.hdr"), hdr_image) <= 2**-6  # still read back


# --- more LDR formats and bad inputs -----------------------------------------------------------


@pytest.mark.parametrize("ext, options", [(".webp", {"lossless": True}), (".bmp", {}), (".WEBP", {"lossless": True})])
def test_webp_and_bmp_are_read_exactly(tmp_path: Path, rng: np.random.Generator, ext: str, options: dict) -> None:
    levels = rng.integers(0, 256, size=(9, 11, 3), dtype=np.uint8)
    Image.fromarray(levels).save(tmp_path / f"a{ext}", **options)
    assert ext.lower() in hio.LDR_EXTENSIONS and ext.lower() not in hio.LDR_WRITE_EXTENSIONS
    out = read_ldr_levels(tmp_path / f"a{ext}")
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, levels)


def test_webp_exif_orientation_is_applied(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    Image.fromarray(_oriented_image()).save(tmp_path / "o.webp", lossless=True, exif=exif)
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "o.webp"), np.rot90(_oriented_image(), k=-1))


def test_palette_png(tmp_path: Path) -> None:
    palette = Image.new("P", (3, 2))
    palette.putpalette([255, 0, 0, 0, 128, 255, 10, 20, 30])
    palette.putdata([0, 1, 2, 2, 1, 0])
    palette.save(tmp_path / "p.png")
    expected = np.array([[[255, 0, 0], [0, 128, 255], [10, 20, 30]], [[10, 20, 30], [0, 128, 255], [255, 0, 0]]])
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "p.png"), expected)


def test_jpeg_content_named_png_is_read_as_jpeg(tmp_path: Path, smooth_image: np.ndarray) -> None:
    write_ldr(tmp_path / "a.jpg", smooth_image)
    (tmp_path / "a.png").write_bytes((tmp_path / "a.jpg").read_bytes())
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "a.png"), read_ldr_levels(tmp_path / "a.jpg"))
    assert read_ldr_info(tmp_path / "a.png").format == "JPEG"


def test_cmyk_jpeg_without_profile_as_pillow_converts_it(tmp_path: Path) -> None:
    cmyk = Image.frombytes("CMYK", (2, 1), bytes([255, 0, 0, 0, 0, 0, 0, 0]))
    cmyk.save(tmp_path / "c.jpg", quality=100)
    with Image.open(tmp_path / "c.jpg") as image:
        expected = np.asarray(image.convert("RGB"))
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "c.jpg"), expected)
    assert np.abs(expected.astype(int) - [[[0, 255, 255], [255, 255, 255]]]).max() <= 2


def _png_with_huge_header(path: Path, width: int, height: int) -> None:
    """A PNG signature and IHDR claiming ``width x height`` RGB pixels, without pixel data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b""))


def _animated_webp(path: Path) -> None:
    frames = [Image.new("RGB", (4, 4), colour) for colour in ("red", "blue")]
    frames[0].save(path, save_all=True, append_images=frames[1:], lossless=True)


@pytest.mark.parametrize(
    "make, name, match",
    [
        (lambda p: p.write_bytes(b""), "empty.png", "empty file"),
        (lambda p: p.mkdir(), "folder.png", "is a folder"),
        (lambda p: _png_with_huge_header(p, 100_000, 100_000), "bomb.png", "decompression bomb"),
        (_animated_webp, "anim.webp", r"animated WebP \(2 frames\)"),
        (lambda p: Image.new("RGB", (4, 4)).save(p, format="GIF"), "gif.png", "GIF images are not supported"),
        (lambda p: p.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(16)), "IMG_0001.HEIC", "pip install pillow-heif"),
    ],
)
def test_unreadable_ldr_input(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: object, name: str, match: str
) -> None:
    monkeypatch.setitem(sys.modules, "pillow_heif", None)  # as if pillow-heif were not installed
    path = tmp_path / name
    make(path)
    for reader in (read_ldr, read_ldr_info):
        with pytest.raises(ImageIOError, match=match) as info:
            reader(path)
        _assert_names(info, path)


@pytest.mark.parametrize("ext, options", [(".webp", {"lossless": True}), (".bmp", {}), (".webp", {"quality": 90})])
def test_truncated_webp_and_bmp(tmp_path: Path, rng: np.random.Generator, ext: str, options: dict) -> None:
    Image.fromarray(rng.integers(0, 256, size=(64, 64, 3), dtype=np.uint8)).save(tmp_path / f"a{ext}", **options)
    path = tmp_path / f"cut{ext}"
    path.write_bytes((tmp_path / f"a{ext}").read_bytes()[:-200])
    with pytest.raises(ImageIOError) as info:
        read_ldr(path)
    _assert_names(info, path)


# --- colour profiles ---------------------------------------------------------------------------
# Tiny ICC profiles built here (ICC.1 v4 layout): matrix/TRC RGB and grey profiles, and lookup-table (lut16)
# profiles. The expected values come from the colorimetry below, independent of hdrsyn.io and littleCMS.

D50 = np.array([0.9642, 1.0, 0.8249])  # the ICC profile connection space's white
BRADFORD = np.array([[0.8951, 0.2664, -0.1614], [-0.7502, 1.7135, 0.0367], [0.0389, -0.0685, 1.0296]])
D65 = (0.3127, 0.3290)
SRGB_PRIMARIES = ((0.64, 0.33), (0.30, 0.60), (0.15, 0.06))
DISPLAY_P3 = ((0.680, 0.320), (0.265, 0.690), (0.150, 0.060))
ADOBE_RGB = ((0.64, 0.33), (0.21, 0.71), (0.15, 0.06))
ADOBE_GAMMA = 563 / 256  # Adobe RGB (1998): 2.19921875
# P3 colours with their sRGB values: the saturated primaries fall outside sRGB and are clipped.
P3_COLOURS = np.array([[255, 0, 0], [0, 255, 0], [128, 128, 128], [200, 100, 50], [30, 200, 220], [0, 0, 0]])
P3_IN_SRGB = np.array([[255, 0, 0], [0, 255, 0], [128, 128, 128], [215, 93, 31], [0, 204, 223], [0, 0, 0]])


def _xyz(x: float, y: float) -> np.ndarray:
    return np.array([x / y, 1.0, (1 - x - y) / y])


def _rgb_to_xyz(primaries: tuple) -> np.ndarray:
    """The matrix from linear RGB with ``primaries`` and a D65 white to XYZ (white Y = 1)."""
    columns = np.stack([_xyz(*p) for p in primaries], axis=1)
    return columns * np.linalg.solve(columns, _xyz(*D65))


def _d65_to_d50() -> np.ndarray:
    """Bradford chromatic adaptation from D65 to D50, as ICC matrix/TRC profiles store colorants."""
    gain = (BRADFORD @ D50) / (BRADFORD @ _xyz(*D65))
    return np.linalg.inv(BRADFORD) @ np.diag(gain) @ BRADFORD


def _srgb_decode(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((v + 0.055) / 1.055) ** 2.4)


def _srgb_encode(linear: np.ndarray) -> np.ndarray:
    linear = np.clip(linear, 0, 1)
    return np.where(linear <= 0.0031308, 12.92 * linear, 1.055 * linear ** (1 / 2.4) - 0.055)


def _expected_srgb(levels: np.ndarray, top: int, primaries: tuple, decode: object) -> np.ndarray:
    """Levels of RGB with ``primaries`` and tone curve ``decode`` as sRGB levels: to XYZ and back, clipped."""
    matrix = np.linalg.solve(_rgb_to_xyz(SRGB_PRIMARIES), _rgb_to_xyz(primaries))
    return np.rint(_srgb_encode(decode(levels / top) @ matrix.T) * top)


def _s15(values: object) -> bytes:
    return b"".join(struct.pack(">i", round(v * 65536)) for v in values)


def _xyz_tag(values: object) -> bytes:
    return b"XYZ " + bytes(4) + _s15(values)


def _text_tag(text: str) -> bytes:
    data = text.encode("utf-16-be")
    return b"mluc" + bytes(4) + struct.pack(">II2s2sII", 1, 12, b"en", b"US", len(data), 28) + data


def _srgb_curve_tag() -> bytes:
    """The sRGB tone curve as a parametric curve (function type 3)."""
    return b"para" + bytes(4) + struct.pack(">HH", 3, 0) + _s15([2.4, 1 / 1.055, 0.055 / 1.055, 1 / 12.92, 0.04045])


def _table_curve_tag(values: object) -> bytes:
    """A ``curv`` tag: one value is a gamma, more a table of values in [0, 1]."""
    values = np.asarray(values, dtype=np.float64)
    if values.size == 1:
        return b"curv" + bytes(4) + struct.pack(">IH", 1, round(float(values[0]) * 256)) + bytes(2)
    return b"curv" + bytes(4) + struct.pack(">I", values.size) + np.rint(values * 65535).astype(">u2").tobytes()


def _lut_tag(inputs: int, corners: np.ndarray) -> bytes:
    """An ``mft2`` (lut16) tag: a 2-point grid per input, identity curves, PCS XYZ at the grid's corners."""
    identity = np.array([0, 65535], ">u2")
    head = b"mft2" + bytes(4) + struct.pack(">BBBB", inputs, 3, 2, 0) + _s15(np.eye(3).ravel())
    head += struct.pack(">HH", 2, 2)  # 2-entry input and output curves
    grid = np.rint(corners * 32768).astype(">u2")  # XYZ as u1Fixed15
    return head + np.tile(identity, inputs).tobytes() + grid.tobytes() + np.tile(identity, 3).tobytes()


def _icc(space: bytes, tags: dict[bytes, bytes], device_class: bytes = b"mntr") -> bytes:
    """ICC profile bytes: a v4.3 header (PCS XYZ, D50 illuminant), the tag table, the 4-byte aligned tags."""
    table, data = [], b""
    start = 128 + 4 + 12 * len(tags)
    for signature, tag in tags.items():
        tag += bytes(-len(tag) % 4)
        table.append(struct.pack(">4sII", signature, start + len(data), len(tag)))
        data += tag
    header = struct.pack(">I4sI4s4s4s12s4s", start + len(data), b"lcms", 0x04300000, device_class, space, b"XYZ ",
                         bytes(12), b"acsp")
    header = header.ljust(68, b"\0") + _s15(D50)
    return header.ljust(128, b"\0") + struct.pack(">I", len(tags)) + b"".join(table) + data


def _rgb_icc(description: str, primaries: tuple, curve: bytes) -> bytes:
    colorants = _d65_to_d50() @ _rgb_to_xyz(primaries)
    tags = {b"desc": _text_tag(description), b"wtpt": _xyz_tag(D50)}
    tags.update({signature: _xyz_tag(colorants[:, i]) for i, signature in enumerate((b"rXYZ", b"gXYZ", b"bXYZ"))})
    return _icc(b"RGB ", {**tags, b"rTRC": curve, b"gTRC": curve, b"bTRC": curve})


def _grey_icc(description: str, curve: bytes) -> bytes:
    return _icc(b"GRAY", {b"desc": _text_tag(description), b"wtpt": _xyz_tag(D50), b"kTRC": curve})


def _lut_icc(description: str, space: bytes, rgb_at: object) -> bytes:
    """A lookup-table profile whose device values (2-point grid corners) give linear sRGB ``rgb_at(*corner)``."""
    inputs = 4 if space == b"CMYK" else 3
    to_pcs = _d65_to_d50() @ _rgb_to_xyz(SRGB_PRIMARIES)
    corners = np.array([to_pcs @ rgb_at(*corner) for corner in itertools.product((0, 1), repeat=inputs)])
    tags = {b"desc": _text_tag(description), b"wtpt": _xyz_tag(D50), b"A2B0": _lut_tag(inputs, corners)}
    return _icc(space, tags, b"prtr" if space == b"CMYK" else b"mntr")


@pytest.fixture(scope="module")
def display_p3() -> bytes:
    """A Display P3 profile: P3 primaries, D65 white, the sRGB tone curve (as Apple's)."""
    return _rgb_icc("Display P3", DISPLAY_P3, _srgb_curve_tag())


@pytest.fixture(scope="module")
def adobe_rgb() -> bytes:
    """An Adobe RGB (1998) compatible profile: gamma 563/256 as a one-entry ``curv``."""
    return _rgb_icc("Adobe RGB (1998)", ADOBE_RGB, _table_curve_tag([ADOBE_GAMMA]))


def _png_with_profile(path: Path, levels: np.ndarray, profile: bytes) -> None:
    """Write ``levels`` (uint8 or uint16, RGB or grey) as PNG with an iCCP chunk inserted after IHDR."""
    ok, encoded = cv2.imencode(".png", levels[..., ::-1] if levels.ndim == 3 else levels)
    data = encoded.tobytes()
    body = b"P\0\0" + zlib.compress(profile)
    chunk = struct.pack(">I", len(body)) + b"iCCP" + body + struct.pack(">I", zlib.crc32(b"iCCP" + body))
    path.write_bytes(data[:33] + chunk + data[33:])  # signature (8) + IHDR (25)


def _random_colours(rng: np.random.Generator) -> np.ndarray:
    return rng.integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


@pytest.mark.parametrize("ext", [".png", ".tif", ".webp"])
def test_display_p3_is_converted_to_srgb(tmp_path: Path, display_p3: bytes, ext: str) -> None:
    """PNG iCCP, TIFF tag, WebP ICCP: P3 colours become their sRGB values; out-of-gamut ones are clipped."""
    levels = P3_COLOURS[None].astype(np.uint8)
    options = {"lossless": True} if ext == ".webp" else {}
    Image.fromarray(levels).save(tmp_path / f"p3{ext}", icc_profile=display_p3, **options)
    out = read_ldr_levels(tmp_path / f"p3{ext}")
    np.testing.assert_array_equal(out[0], P3_IN_SRGB)
    expected = _expected_srgb(P3_COLOURS, 255, DISPLAY_P3, _srgb_decode)
    np.testing.assert_array_equal(out[0], expected)  # the same values from the colorimetry here
    matrix = np.linalg.solve(_rgb_to_xyz(SRGB_PRIMARIES), _rgb_to_xyz(DISPLAY_P3))
    assert matrix[0, 0] > 1.2 and matrix[1, 0] < -0.04  # P3 red is outside sRGB: clipped to (255, 0, 0)
    np.testing.assert_array_equal(read_ldr(tmp_path / f"p3{ext}"), out.astype(np.float32) / 255)


def test_display_p3_jpeg_differs_from_untagged_copy(
    tmp_path: Path, display_p3: bytes, smooth_image: np.ndarray
) -> None:
    levels = np.rint(smooth_image * 255).astype(np.uint8)
    Image.fromarray(levels).save(tmp_path / "p3.jpg", quality=95, icc_profile=display_p3)
    Image.fromarray(levels).save(tmp_path / "plain.jpg", quality=95)
    plain, p3 = read_ldr_levels(tmp_path / "plain.jpg"), read_ldr_levels(tmp_path / "p3.jpg")
    expected = _expected_srgb(plain.astype(np.float64), 255, DISPLAY_P3, _srgb_decode)
    assert np.abs(p3 - expected).max() <= 1
    assert np.abs(p3.astype(int) - plain).max() >= 20


def test_display_p3_matches_littlecms(tmp_path: Path, display_p3: bytes, rng: np.random.Generator) -> None:
    """The float conversion agrees with littleCMS (relative colorimetric) within a level on random colours."""
    levels = _random_colours(rng)
    Image.fromarray(levels).save(tmp_path / "p3.png", icc_profile=display_p3)
    source = ImageCms.ImageCmsProfile(io.BytesIO(display_p3))
    srgb = ImageCms.createProfile("sRGB")
    reference = np.asarray(ImageCms.profileToProfile(
        Image.fromarray(levels), source, srgb, renderingIntent=ImageCms.Intent.RELATIVE_COLORIMETRIC
    ))
    out = read_ldr_levels(tmp_path / "p3.png")
    assert np.abs(out.astype(int) - reference).max() <= 1
    expected = _expected_srgb(levels.astype(np.float64), 255, DISPLAY_P3, _srgb_decode)
    assert np.abs(out - expected).max() <= 1 and (out == expected).mean() > 0.99  # profile stores 16-bit fixed point


def test_display_p3_16bit_is_converted_without_8bit_steps(tmp_path: Path, display_p3: bytes) -> None:
    """A 16-bit P3 ramp keeps (nearly) all of its levels: no conversion through 8 bits."""
    ramp = np.arange(30000, 32000, dtype=np.uint16)
    levels = np.stack([ramp, ramp // 2, ramp // 4], axis=-1)[None]
    _png_with_profile(tmp_path / "p3.png", levels, display_p3)
    out = read_ldr_levels(tmp_path / "p3.png")
    assert out.dtype == np.uint16
    expected = _expected_srgb(levels.astype(np.float64), 65535, DISPLAY_P3, _srgb_decode)
    assert np.abs(out.astype(int) - expected).max() <= 2
    assert len(np.unique(out[..., 0])) > 1900  # 8-bit steps would leave ~8 distinct levels


def test_adobe_rgb_is_converted(tmp_path: Path, adobe_rgb: bytes) -> None:
    """Adobe RGB: gamma 2.2 curve and a wider green; a mid grey stays grey but gets a level lighter."""
    colours = np.array([[128, 128, 128], [0, 255, 0], [200, 100, 50], [255, 255, 255]])
    Image.fromarray(colours[None].astype(np.uint8)).save(tmp_path / "adobe.png", icc_profile=adobe_rgb)
    out = read_ldr_levels(tmp_path / "adobe.png")[0]
    expected = _expected_srgb(colours, 255, ADOBE_RGB, lambda v: v**ADOBE_GAMMA)
    assert np.abs(out.astype(int) - expected).max() <= 1
    np.testing.assert_array_equal(out[0], [129, 129, 129])
    np.testing.assert_array_equal(out[3], [255, 255, 255])
    assert read_ldr_info(tmp_path / "adobe.png") == LdrInfo("PNG", "Adobe RGB (1998)", True)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".tif", ".webp"])
@pytest.mark.parametrize("profile", ["littlecms", "table"])
def test_srgb_tagged_is_byte_identical_to_untagged(
    tmp_path: Path, rng: np.random.Generator, ext: str, profile: str
) -> None:
    """Pillow's sRGB profile, or a v4 profile with a 1024-entry table curve (as the common HP sRGB one)."""
    if profile == "littlecms":
        icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    else:
        icc = _rgb_icc("sRGB IEC61966-2.1", SRGB_PRIMARIES, _table_curve_tag(_srgb_decode(np.linspace(0, 1, 1024))))
    levels = _random_colours(rng)
    options = {"lossless": True} if ext == ".webp" else {}
    Image.fromarray(levels).save(tmp_path / f"tagged{ext}", icc_profile=icc, **options)
    Image.fromarray(levels).save(tmp_path / f"plain{ext}", **options)
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / f"tagged{ext}"), read_ldr_levels(tmp_path / f"plain{ext}"))
    info = read_ldr_info(tmp_path / f"tagged{ext}")
    assert not info.converted and info.note is None and info.profile in ("sRGB built-in", "sRGB IEC61966-2.1")


def test_srgb_tagged_16bit_is_byte_identical(tmp_path: Path, rng: np.random.Generator) -> None:
    levels = rng.integers(0, 65536, size=(8, 9, 3), dtype=np.uint16)
    _png_with_profile(tmp_path / "tagged.png", levels, _rgb_icc("sRGB", SRGB_PRIMARIES, _srgb_curve_tag()))
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "tagged.png"), levels)


def test_read_ldr_info(tmp_path: Path, display_p3: bytes) -> None:
    Image.new("RGB", (2, 2)).save(tmp_path / "p3.jpg", icc_profile=display_p3)
    info = read_ldr_info(tmp_path / "p3.jpg")
    assert info == LdrInfo("JPEG", "Display P3", True)
    assert info.note == "converted from Display P3 to sRGB (colours outside sRGB clipped)"
    Image.new("RGB", (2, 2)).save(tmp_path / "plain.webp")
    assert read_ldr_info(tmp_path / "plain.webp") == LdrInfo("WEBP", None, False)
    assert read_ldr_info(tmp_path / "plain.webp").note is None


@pytest.mark.parametrize("bits", [8, 16])
def test_grey_profile_converts_the_tone_curve(tmp_path: Path, bits: int) -> None:
    """A grey gamma 2.2 profile (563/256) on grey pixels: greys are re-encoded with the sRGB curve and stay neutral."""
    top = 2**bits - 1
    grey = np.linspace(0, top, 64).astype(np.uint8 if bits == 8 else np.uint16).reshape(4, 16)
    _png_with_profile(tmp_path / "g.png", grey, _grey_icc("Gray Gamma 2.2", _table_curve_tag([ADOBE_GAMMA])))
    out = read_ldr_levels(tmp_path / "g.png")
    expected = np.rint(_srgb_encode((grey / top) ** ADOBE_GAMMA) * top)
    assert np.abs(out[..., 0].astype(int) - expected).max() <= 1
    assert (out == out[..., :1]).all() and (out[..., 0] != grey).sum() > 40


def test_grey_srgb_curve_profile_is_identical(tmp_path: Path) -> None:
    grey = np.arange(0, 65536, 997, dtype=np.uint16).reshape(2, -1)
    _png_with_profile(tmp_path / "g.png", grey, _grey_icc("sGrey", _srgb_curve_tag()))
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "g.png"), np.repeat(grey[..., None], 3, axis=-1))


def test_cmyk_jpeg_is_converted_by_its_profile(tmp_path: Path) -> None:
    """A lookup-table CMYK profile (linear-light inks): converted by littleCMS, not by Pillow's naive formula."""
    icc = _lut_icc("Test CMYK", b"CMYK", lambda c, m, y, k: (1 - np.array([c, m, y])) * (1 - k))
    cmyk = Image.frombytes("CMYK", (4, 1), bytes([0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 128, 128, 0, 255, 0]))
    cmyk.save(tmp_path / "c.tif", icc_profile=icc)  # lossless, same pixels as a CMYK JPEG's
    cmyk.save(tmp_path / "c.jpg", icc_profile=icc, quality=100)
    linear = np.array([[1, 1, 1], [0, 1, 1], [127 / 255] * 3, [127 / 255, 1, 0]])
    expected = np.rint(_srgb_encode(linear) * 255)  # K=128 -> linear 0.498 -> 187, where Pillow's formula gives 127
    assert np.abs(read_ldr_levels(tmp_path / "c.tif")[0].astype(int) - expected).max() <= 1
    assert np.abs(read_ldr_levels(tmp_path / "c.jpg")[0].astype(int) - expected).max() <= 3
    assert read_ldr_info(tmp_path / "c.jpg") == LdrInfo("JPEG", "Test CMYK", True)


def test_lookup_table_rgb_profile_8bit_converted_16bit_refused(tmp_path: Path) -> None:
    """An RGB lookup-table profile (linear sRGB) goes through littleCMS in 8 bits; 16-bit samples are refused."""
    icc = _lut_icc("Linear LUT", b"RGB ", lambda r, g, b: np.array([r, g, b], dtype=np.float64))
    levels = np.array([[[128, 128, 128], [255, 0, 64]]], dtype=np.uint8)
    Image.fromarray(levels).save(tmp_path / "lut.png", icc_profile=icc)
    expected = np.rint(_srgb_encode(levels / 255) * 255)
    assert np.abs(read_ldr_levels(tmp_path / "lut.png").astype(int) - expected).max() <= 1
    _png_with_profile(tmp_path / "lut16.png", levels.astype(np.uint16) * 257, icc)
    with pytest.raises(ImageIOError, match="16-bit samples by its lookup-table ICC profile 'Linear LUT'") as info:
        read_ldr_levels(tmp_path / "lut16.png")
    _assert_names(info, tmp_path / "lut16.png")


@pytest.mark.parametrize(
    "make_profile, match",
    [
        (lambda: b"garbage" * 40, "cannot parse its ICC profile"),
        (lambda: _rgb_icc("Display P3", DISPLAY_P3, b"xxxx" + bytes(12)), "cannot parse its ICC profile"),
        (lambda: _grey_icc("Gamma 2.2", _table_curve_tag([2.2])), "GRAY ICC profile 'Gamma 2.2' does not fit its RGB"),
    ],
)
def test_bad_profile_is_an_error(tmp_path: Path, make_profile: object, match: str) -> None:
    """Unknown colours are an error, not a guess: a profile that cannot be parsed or that does not fit."""
    path = tmp_path / "bad.png"
    Image.new("RGB", (2, 2)).save(path, icc_profile=make_profile())
    for reader in (read_ldr_levels, read_ldr_info):
        with pytest.raises(ImageIOError, match=match) as info:
            reader(path)
        _assert_names(info, path)


def test_rgb_profile_on_grey_pixels_is_applied_to_the_grey(tmp_path: Path, adobe_rgb: bytes) -> None:
    Image.new("L", (2, 2), 128).save(tmp_path / "g.jpg", icc_profile=adobe_rgb, quality=100)
    np.testing.assert_array_equal(read_ldr_levels(tmp_path / "g.jpg"), np.full((2, 2, 3), 129))
