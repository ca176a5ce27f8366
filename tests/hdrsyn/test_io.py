"""Tests for hdrsyn.io: round trips, channel layouts, EXIF handling, errors and atomic writes."""

from __future__ import annotations

import contextlib
from pathlib import Path

import cv2
import numpy as np
import OpenEXR
import pytest
from PIL import ExifTags, Image
from PIL.TiffImagePlugin import IFDRational

from hdrsyn import io as hio
from hdrsyn.io import (
    ImageIOError,
    output_group,
    read_exposure_time,
    read_hdr,
    read_ldr,
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
    with pytest.raises(ImageIOError, match="float32") as info:
        read_ldr(hdr_named_png)
    _assert_names(info, hdr_named_png)


@pytest.mark.parametrize(
    "func, name",
    [
        (read_ldr, "a.bmp"),
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
    message = str(info.value)
    assert all(ext in message for ext in hio.LDR_EXTENSIONS) or all(ext in message for ext in hio.HDR_EXTENSIONS)


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


def test_failing_encoder_leaves_destination_and_no_temp(
    existing: tuple[Path, bytes], monkeypatch: pytest.MonkeyPatch, ldr_image: np.ndarray
) -> None:
    path, before = existing
    seen: list[str] = []

    def half_written(filename: str, *args, **kwargs) -> bool:
        seen.append(filename)
        Path(filename).write_bytes(b"\x89PNG partial")
        raise cv2.error("disk on fire")

    monkeypatch.setattr(cv2, "imwrite", half_written)
    with pytest.raises(ImageIOError, match="disk on fire") as info:
        write_ldr(path, ldr_image)
    _assert_names(info, path)
    assert seen and Path(seen[0]).parent == path.parent and seen[0].endswith(".png")
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
