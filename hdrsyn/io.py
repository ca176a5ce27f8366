"""HDR and LDR image file I/O: the one place where images are read from and written to disk.

Backends:

* ``.exr``: the ``OpenEXR`` package (half or float channels, ZIP compression on write).
* ``.hdr`` (Radiance RGBE): OpenCV, which decodes to float32 (imageio's default ``.hdr`` reader
  returns lossy uint8).
* ``.png`` / ``.tif`` / ``.tiff``: OpenCV, which keeps 16-bit samples (Pillow reduces 16-bit RGB to 8).
* JPEG (detected by content when reading): Pillow, which rejects truncated files and applies the
  EXIF orientation; OpenCV is used for writing.

Readers return float32 ``(H, W, 3)`` RGB arrays. Writers are atomic: the encoder writes a temporary
sibling file with the same extension, which then replaces the destination with :func:`os.replace`.
:func:`output_group` extends this to several files written all or nothing. Every failure raises
:class:`ImageIOError` naming the file.
"""

from __future__ import annotations

import fcntl
import io
import math
import os
import secrets
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from functools import partial
from pathlib import Path
from typing import Literal, Union

import cv2
import numpy as np
import OpenEXR
from PIL import ExifTags, Image, ImageOps

PathLike = Union[str, os.PathLike[str]]

#: Extensions accepted by :func:`read_hdr` and :func:`write_hdr` (case-insensitive).
HDR_EXTENSIONS = (".exr", ".hdr")
#: Extensions accepted by :func:`read_ldr`, :func:`write_ldr` and :func:`read_exposure_time`.
LDR_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")

_JPEG_EXTENSIONS = (".jpg", ".jpeg")
_JPEG_MAGIC = b"\xff\xd8"
_JPEG_QUALITY = 95
# Keep the bit depth, always decode to 3 channels (grey replicated, alpha dropped), honour EXIF orientation.
_CV2_READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR


class ImageIOError(OSError):
    """An image file could not be read or written; the message names the file."""


def read_ldr(path: PathLike) -> np.ndarray:
    """Read an 8/16-bit PNG, JPEG or TIFF as float32 ``(H, W, 3)`` RGB in [0, 1].

    As :func:`read_ldr_levels`, with samples divided by 255 or 65535 according to the file's bit depth.
    """
    levels = read_ldr_levels(path)
    return levels.astype(np.float32) / np.iinfo(levels.dtype).max


def read_ldr_levels(path: PathLike) -> np.ndarray:
    """Read an 8/16-bit PNG, JPEG or TIFF as its integer samples: ``(H, W, 3)`` RGB, uint8 or uint16.

    Grey images are replicated to 3 channels, alpha is dropped and the EXIF orientation is applied
    (JPEG, TIFF).
    """
    path = _checked_path(path, LDR_EXTENSIONS)
    data = _read_bytes(path)
    with _image_io_errors(path, "read"):
        pixels = _decode_jpeg(data) if data.startswith(_JPEG_MAGIC) else _decode_cv2(data)
    if pixels.dtype not in (np.uint8, np.uint16):
        raise ImageIOError(f"{path}: unsupported sample type {pixels.dtype}, expected 8- or 16-bit integers")
    return pixels


def read_hdr(path: PathLike) -> np.ndarray:
    """Read a Radiance ``.hdr`` or OpenEXR ``.exr`` file as float32 ``(H, W, 3)`` linear RGB.

    EXR: half, float or uint channels named ``R, G, B`` (any other channels such as ``A`` are
    ignored) or a single ``Y`` channel (replicated); only the first part is read. Values are returned
    as stored: negative, NaN and Inf values are not clipped. ``.hdr``: OpenCV decodes an RGBE
    mantissa ``m`` as ``m * 2**(e - 136)``, without Radiance's half-step offset.
    """
    path = _checked_path(path, HDR_EXTENSIONS)
    if path.suffix.lower() == ".exr":
        return _read_exr(path)
    data = _read_bytes(path)
    with _image_io_errors(path, "read"):
        pixels = _decode_cv2(data)
    if pixels.dtype != np.float32:
        raise ImageIOError(f"{path}: not a Radiance RGBE file (decoded {pixels.dtype} samples)")
    return pixels


def write_hdr(path: PathLike, image: np.ndarray, precision: Literal["half", "float"] = "half") -> None:
    """Atomically write a float ``(H, W, 3)`` linear RGB image as ``.exr`` or ``.hdr``.

    ``.exr`` is ZIP-compressed with float16 (``precision="half"``) or float32 channels R, G, B. Half
    overflows to +-inf beyond +-65504 (numpy warns) and flushes values below ~6e-8 to 0.
    ``.hdr`` ignores ``precision``: RGBE stores an 8-bit mantissa per channel with an exponent shared
    by the pixel. OpenCV truncates the mantissas, so values read back are smaller by up to 2**-7 of
    the pixel's largest channel (channels far below it lose more); negative, NaN and Inf values are
    written as 0.
    """
    path = _checked_path(path, HDR_EXTENSIONS)
    if precision not in ("half", "float"):
        raise ValueError(f"precision must be 'half' or 'float', got {precision!r}")
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[-1] != 3 or not np.issubdtype(image.dtype, np.floating):
        raise ImageIOError(f"{path}: expected a float (H, W, 3) array, got {image.dtype} {image.shape}")
    if path.suffix.lower() == ".exr":
        dtype = np.float16 if precision == "half" else np.float32
        channels = {name: np.ascontiguousarray(image[..., i], dtype=dtype) for i, name in enumerate("RGB")}
        encode = partial(_write_exr, channels=channels)
    else:
        bgr = cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2BGR)
        encode = partial(_write_cv2, image=bgr, params=())
    atomic_write(path, encode)


def write_ldr(path: PathLike, image: np.ndarray, bits: Literal[8, 16] = 8) -> None:
    """Atomically write an RGB ``(H, W, 3)`` or grey ``(H, W)`` image as PNG, JPEG or TIFF.

    Float input is clipped to [0, 1] and rounded to ``bits`` bits; uint8 / uint16 input is written
    as is and must match ``bits``. PNG and TIFF take 8 or 16 bits, JPEG only 8 (quality 95).
    """
    path = _checked_path(path, LDR_EXTENSIONS)
    if bits not in (8, 16):
        raise ValueError(f"bits must be 8 or 16, got {bits!r}")
    is_jpeg = path.suffix.lower() in _JPEG_EXTENSIONS
    if is_jpeg and bits != 8:
        raise ImageIOError(f"{path}: JPEG stores 8-bit samples only, got bits={bits}")
    pixels = _quantize(path, np.asarray(image), np.uint8 if bits == 8 else np.uint16)
    if pixels.ndim == 3:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR)
    params = (cv2.IMWRITE_JPEG_QUALITY, _JPEG_QUALITY) if is_jpeg else ()
    atomic_write(path, partial(_write_cv2, image=pixels, params=params))


def read_exposure_time(path: PathLike) -> float | None:
    """EXIF ExposureTime (tag 33434) in seconds, or None if absent or not a positive number."""
    path = _checked_path(path, LDR_EXTENSIONS)
    data = _read_bytes(path)
    with _image_io_errors(path, "read EXIF from"), Image.open(io.BytesIO(data)) as image:
        exif = image.getexif()
        value = exif.get_ifd(ExifTags.IFD.Exif).get(ExifTags.Base.ExposureTime)
        value = exif.get(ExifTags.Base.ExposureTime) if value is None else value
    if value is None:
        return None
    seconds = float(value)
    return seconds if math.isfinite(seconds) and seconds > 0 else None


def _checked_path(path: PathLike, supported: Sequence[str]) -> Path:
    """``path`` as a :class:`Path` after checking its extension (case-insensitive) is supported."""
    path = Path(path)
    if path.suffix.lower() not in supported:
        raise ImageIOError(
            f"{path}: unsupported extension {path.suffix!r}, expected one of {', '.join(supported)}"
        )
    return path


@contextmanager
def _image_io_errors(path: Path, action: str) -> Iterator[None]:
    """Re-raise backend failures (OS, OpenCV, OpenEXR, Pillow errors) as :class:`ImageIOError`."""
    try:
        yield
    except ImageIOError:
        raise
    except (OSError, RuntimeError, ValueError, cv2.error, Image.DecompressionBombError) as error:
        raise ImageIOError(f"cannot {action} {path}: {error}") from error


def _require_file(path: Path) -> None:
    """Raise :class:`ImageIOError` unless ``path`` is an existing file."""
    if not path.is_file():
        raise ImageIOError(f"{path}: no such file")


def _read_bytes(path: Path) -> bytes:
    """The content of the file ``path``."""
    _require_file(path)
    with _image_io_errors(path, "read"):
        return path.read_bytes()


def _decode_cv2(data: bytes) -> np.ndarray:
    """Decode PNG / TIFF / Radiance bytes with OpenCV to a 3-channel RGB array of the file's depth.

    ``cv2.imdecode`` is used rather than ``cv2.imread``, which fails on TIFFs with an orientation tag.
    """
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _CV2_READ_FLAGS)
    if pixels is None:
        raise ValueError("OpenCV could not decode the file (corrupt, truncated or not an image)")
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def _decode_jpeg(data: bytes) -> np.ndarray:
    """Decode JPEG bytes with Pillow to uint8 RGB, applying the EXIF orientation."""
    with Image.open(io.BytesIO(data), formats=["JPEG"]) as image:
        return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def _read_exr(path: Path) -> np.ndarray:
    """Read the R, G, B (or Y) channels of the first part of an OpenEXR file as float32 RGB."""
    _require_file(path)
    with _image_io_errors(path, "read"):
        exr = OpenEXR.File(str(path), separate_channels=True)
        channels = {name: channel.pixels for name, channel in exr.channels().items()}
    if {"R", "G", "B"} <= channels.keys():
        planes = [channels[name] for name in "RGB"]
    elif "Y" in channels and not {"RY", "BY"} & channels.keys():
        planes = [channels["Y"]] * 3
    else:
        raise ImageIOError(f"{path}: need R, G, B or a lone Y channel, found {sorted(channels)}")
    if len({plane.shape for plane in planes}) != 1:
        raise ImageIOError(f"{path}: subsampled channels are not supported")
    return np.stack(planes, axis=-1).astype(np.float32)


def _quantize(path: Path, image: np.ndarray, dtype: type[np.unsignedinteger]) -> np.ndarray:
    """Check an LDR image's shape and convert it to ``dtype`` (float in [0, 1] is clipped and rounded)."""
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[-1] != 3):
        raise ImageIOError(f"{path}: expected an (H, W, 3) or (H, W) array, got shape {image.shape}")
    if np.issubdtype(image.dtype, np.floating):
        image = image.astype(np.float32)
        if np.isnan(image).any():
            raise ImageIOError(f"{path}: image contains NaN")
        return np.rint(np.clip(image, 0, 1) * np.iinfo(dtype).max).astype(dtype)
    if image.dtype != dtype:
        raise ImageIOError(
            f"{path}: cannot write {image.dtype} samples as {np.iinfo(dtype).bits}-bit, "
            f"pass floats in [0, 1] or {np.dtype(dtype).name}"
        )
    return image


def _write_exr(tmp: Path, channels: dict[str, np.ndarray]) -> None:
    """Write single-part scanline EXR channels with ZIP compression."""
    header = {"compression": OpenEXR.ZIP_COMPRESSION, "type": OpenEXR.scanlineimage}
    OpenEXR.File(header, channels).write(str(tmp))


def _write_cv2(tmp: Path, image: np.ndarray, params: Sequence[int]) -> None:
    """Write a BGR (or grey) image with OpenCV, the format chosen by ``tmp``'s extension."""
    if not cv2.imwrite(str(tmp), image, list(params)):
        raise RuntimeError("OpenCV could not encode the image")


def atomic_write(path: Path, encode: Callable[[Path], None]) -> None:
    """Run ``encode`` on a hidden temporary sibling of ``path`` with its extension, then move it onto ``path``.

    On failure the temporary file is removed and an existing ``path`` is left untouched.
    """
    with _image_io_errors(path, "write"):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.stem}.{secrets.token_hex(6)}.tmp{path.suffix}")
        try:
            encode(tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


@contextmanager
def output_group(paths: Iterable[Path], overwrite: bool = False) -> Iterator[dict[Path, Path]]:
    """Write a group of files (e.g. an HDR image, its preview and its response plot) all or nothing.

    Yields ``{path: temporary sibling}``: write each file to its temporary. When the block ends without
    error, the temporaries are moved onto their paths under an exclusive lock of their folders, so
    concurrent groups into one folder are committed one at a time and never mix. An existing file
    (including one another process wrote meanwhile) raises :class:`FileExistsError` unless
    ``overwrite``, and then nothing is moved. On any failure every temporary is removed.
    """
    token = secrets.token_hex(6)
    staged = {path: path.with_name(f".{path.stem}.{token}.tmp{path.suffix}") for path in paths}
    try:
        for folder in {path.parent for path in staged}:
            folder.mkdir(parents=True, exist_ok=True)
        yield staged
        with ExitStack() as locks:
            for folder in sorted({path.parent for path in staged}):
                locks.enter_context(_folder_lock(folder))
            existing = [str(path) for path in staged if path.exists()]
            if existing and not overwrite:
                raise FileExistsError(f"refusing to overwrite {', '.join(existing)} (use --overwrite)")
            for path, tmp in staged.items():
                os.replace(tmp, path)
    finally:
        for tmp in staged.values():
            tmp.unlink(missing_ok=True)


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (other processes taking it wait)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
