"""HDR and LDR image file I/O: the one place where images are read from and written to disk.

Backends:

* ``.exr``: the ``OpenEXR`` package (half or float channels, ZIP compression on write).
* ``.hdr`` (Radiance RGBE): OpenCV, which decodes to float32 (imageio's default ``.hdr`` reader
  returns lossy uint8).
* PNG and TIFF: OpenCV, which keeps 16-bit samples (Pillow reduces 16-bit RGB to 8).
* JPEG, WebP, BMP and HEIC/HEIF: Pillow (HEIC/HEIF with the optional ``pillow-heif`` package), which
  rejects truncated files and applies the EXIF orientation.

Every LDR file is first opened by Pillow, which recognises its format by content (a JPEG named
``.png`` is read as JPEG), reads its ICC profile and refuses decompression bombs (Pillow's
``Image.MAX_IMAGE_PIXELS`` limit). Writers encode in memory with OpenCV or OpenEXR.

Colour: LDR images are returned in sRGB (Rec.709 primaries, D65 white, sRGB curve), the space the
model was trained in. A file with an embedded ICC profile (JPEG APP2, PNG iCCP, TIFF tag, WebP ICCP) is
converted to sRGB unless the profile amounts to sRGB (:func:`read_ldr_levels`); an untagged file is
taken as sRGB. HDR files hold linear Rec.709 RGB and say so (EXR ``chromaticities`` attribute, Radiance
``PRIMARIES=`` line).

Writers are atomic: the encoded bytes go to a temporary sibling file with the same extension, which
then replaces the destination with :func:`os.replace`. :func:`output_group` extends this to several
files written all or nothing. Every failure raises :class:`ImageIOError` naming the file; a full disk
or quota raises its subclass :class:`NoSpaceError` naming the folder and the final file.
"""

from __future__ import annotations

import errno
import fcntl
import io
import math
import os
import secrets
import struct
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Literal, Union

import cv2
import numpy as np
import OpenEXR
from PIL import ExifTags, Image, ImageCms, ImageOps, UnidentifiedImageError

PathLike = Union[str, os.PathLike[str]]

#: Extensions accepted by :func:`read_hdr` and :func:`write_hdr` (case-insensitive).
HDR_EXTENSIONS = (".exr", ".hdr")
#: Extensions accepted by :func:`read_ldr`, :func:`read_ldr_levels`, :func:`read_ldr_info` and
#: :func:`read_exposure_time` (case-insensitive). HEIC/HEIF need the ``pillow-heif`` package.
LDR_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".webp", ".bmp", ".heic", ".heif")
#: Extensions accepted by :func:`write_ldr` (case-insensitive).
LDR_WRITE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
#: The primaries and white of every HDR file written and every LDR image read: Rec.709 / sRGB, D65,
#: as ``(red x, red y, green x, green y, blue x, blue y, white x, white y)``.
SRGB_CHROMATICITIES = (0.64, 0.33, 0.30, 0.60, 0.15, 0.06, 0.3127, 0.3290)

_JPEG_EXTENSIONS = (".jpg", ".jpeg")
_HEIF_EXTENSIONS = (".heic", ".heif")
_JPEG_QUALITY = 95
# Keep the bit depth, always decode to 3 channels (grey replicated, alpha dropped), honour EXIF orientation.
_CV2_READ_FLAGS = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_COLOR
# Pillow format names read by OpenCV (16-bit samples kept) and by Pillow.
_CV2_FORMATS = ("PNG", "TIFF")
_PILLOW_FORMATS = ("JPEG", "MPO", "WEBP", "BMP", "DIB", "HEIF")
_RADIANCE_PRIMARIES = ("PRIMARIES=" + " ".join(f"{c:.4f}" for c in SRGB_CHROMATICITIES) + "\n").encode()
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)
# An ICC profile that leaves every colour of this grid of 8-bit levels as it is counts as sRGB.
_GRID_LEVELS = np.arange(0, 256, 15, dtype=np.uint8)
_SRGB_TEST_GRID = np.concatenate([
    np.stack(np.meshgrid(_GRID_LEVELS, _GRID_LEVELS, _GRID_LEVELS), axis=-1).reshape(1, -1, 3),
    np.repeat(np.arange(256, dtype=np.uint8)[None, :, None], 3, axis=-1),
], axis=1)


class ImageIOError(OSError):
    """An image file could not be read or written; the message names the file."""


class NoSpaceError(ImageIOError):
    """The disk or the quota filled up while writing :attr:`paths` (their final names); ``errno`` says which."""

    paths: tuple[Path, ...] = ()


@dataclass(frozen=True)
class LdrInfo:
    """What :func:`read_ldr_levels` does with a file's colours (:func:`read_ldr_info`)."""

    #: The file format found by content, as Pillow names it: ``"JPEG"``, ``"PNG"``, ``"TIFF"``, ``"WEBP"`` ...
    format: str
    #: The description of the embedded ICC profile, None if the file has none (it is read as sRGB).
    profile: str | None
    #: Whether the pixels are converted from ``profile`` to sRGB (False for an sRGB profile).
    converted: bool

    @property
    def note(self) -> str | None:
        """``"converted from Display P3 to sRGB ..."`` if the colours are converted, else None."""
        if not self.converted:
            return None
        return f"converted from {self.profile or 'its ICC profile'} to sRGB (colours outside sRGB clipped)"


@dataclass(frozen=True)
class _Profile:
    """An embedded ICC profile, with its float model when it is a matrix/TRC profile."""

    description: str
    space: str  # the ICC colour space: "RGB", "GRAY" or "CMYK"
    cms: ImageCms.ImageCmsProfile
    #: For a matrix/TRC profile: the raw ``curv``/``para`` tag of each channel's tone curve (one for grey) ...
    curves: tuple[bytes, ...] | None
    #: ... and the matrix from its linear RGB to linear sRGB (None for grey: neutral stays neutral).
    matrix: np.ndarray | None


def read_ldr(path: PathLike) -> np.ndarray:
    """Read an 8/16-bit LDR image (:data:`LDR_EXTENSIONS`) as float32 ``(H, W, 3)`` sRGB in [0, 1].

    As :func:`read_ldr_levels`, with samples divided by 255 or 65535 according to the file's bit depth.
    """
    levels = read_ldr_levels(path)
    return levels.astype(np.float32) / np.iinfo(levels.dtype).max


def read_ldr_levels(path: PathLike) -> np.ndarray:
    """Read an 8/16-bit LDR image (:data:`LDR_EXTENSIONS`) as integer sRGB samples: ``(H, W, 3)`` uint8 or uint16.

    Grey images are replicated to 3 channels, alpha is dropped and the EXIF orientation is applied
    (JPEG, TIFF, WebP, HEIC). A multi-picture JPEG (MPO) or multi-page TIFF gives its first image; an
    animated WebP is refused.

    Colours: an embedded ICC profile is converted to sRGB with the relative colorimetric intent (colours
    keep their measured values; those outside sRGB are clipped channel by channel), unless the
    conversion leaves a grid of 8-bit colours unchanged: such an sRGB profile is ignored, as is the
    absence of one. Matrix/TRC profiles (Display P3, Adobe RGB, ProPhoto, Rec.2020, grey gamma curves)
    are converted in float from the stored 8- or 16-bit samples and rounded once. Other profiles
    (lookup tables, CMYK) go through littleCMS (Pillow's ImageCms) in 8 bits, with black point
    compensation; 16-bit samples with such a profile are refused. A profile that cannot be parsed or
    does not fit the pixels (a grey profile on colour pixels, CMYK on RGB) raises :class:`ImageIOError`:
    the file's colours are unknown. :func:`read_ldr_info` tells what happens to a file's colours.
    """
    path = _checked_path(path, LDR_EXTENSIONS)
    data = _read_bytes(path)
    with _open_image(path, data) as image:
        profile = _embedded_profile(path, image)
        if profile is not None and _is_srgb(profile):
            profile = None
        if image.mode == "CMYK":
            return _decode_cmyk(image, profile)
        pixels = _decode_cv2(data) if image.format in _CV2_FORMATS else _decode_pillow(image)
        if pixels.dtype not in (np.uint8, np.uint16):
            raise ImageIOError(f"{path}: unsupported sample type {pixels.dtype}, expected 8- or 16-bit integers")
        return pixels if profile is None else _to_srgb(pixels, profile)


def read_ldr_info(path: PathLike) -> LdrInfo:
    """The format of an LDR file and what :func:`read_ldr_levels` does with its colours, from its header.

    Raises :class:`ImageIOError` where :func:`read_ldr_levels` would for the header or the profile.

    >>> read_ldr_info("IMG_0001.jpg").note  # doctest: +SKIP
    'converted from Display P3 to sRGB (colours outside sRGB clipped)'
    """
    path = _checked_path(path, LDR_EXTENSIONS)
    with _open_image(path, _read_bytes(path)) as image:
        profile = _embedded_profile(path, image)
        if profile is None:
            return LdrInfo(image.format, None, False)
        return LdrInfo(image.format, profile.description, not _is_srgb(profile))


def read_hdr(path: PathLike) -> np.ndarray:
    """Read a Radiance ``.hdr`` or OpenEXR ``.exr`` file as float32 ``(H, W, 3)`` linear RGB.

    EXR: half, float or uint channels named ``R, G, B`` (any other channels such as ``A`` are
    ignored) or a single ``Y`` channel (replicated); only the first part is read. Values are returned
    as stored: negative, NaN and Inf values are not clipped. ``.hdr``: OpenCV decodes an RGBE
    mantissa ``m`` as ``m * 2**(e - 136)``, without Radiance's half-step offset. Primaries recorded in
    the file are not converted.
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
    """Atomically write a float ``(H, W, 3)`` linear sRGB image as ``.exr`` or ``.hdr``.

    Both record the primaries :data:`SRGB_CHROMATICITIES` (Rec.709, D65 white): the EXR
    ``chromaticities`` attribute, the Radiance ``PRIMARIES=`` header line.
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
        encode = partial(_write_radiance, image=cv2.cvtColor(image.astype(np.float32), cv2.COLOR_RGB2BGR))
    atomic_write(path, encode)


def write_ldr(path: PathLike, image: np.ndarray, bits: Literal[8, 16] = 8) -> None:
    """Atomically write an RGB ``(H, W, 3)`` or grey ``(H, W)`` image as PNG, JPEG or TIFF.

    :data:`LDR_WRITE_EXTENSIONS` lists the extensions (WebP, BMP and HEIC are read, not written).

    Float input is clipped to [0, 1] and rounded to ``bits`` bits; uint8 / uint16 input is written
    as is and must match ``bits``. PNG and TIFF take 8 or 16 bits, JPEG only 8 (quality 95). No ICC
    profile is embedded: the samples are sRGB.
    """
    path = _checked_path(path, LDR_WRITE_EXTENSIONS)
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
    with _open_image(path, _read_bytes(path)) as image:
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
    """Re-raise backend failures (OS, OpenCV, OpenEXR, Pillow, littleCMS errors) as :class:`ImageIOError`."""
    try:
        yield
    except ImageIOError:
        raise
    except (
        OSError, RuntimeError, ValueError, struct.error, cv2.error, Image.DecompressionBombError, ImageCms.PyCMSError
    ) as error:
        raise ImageIOError(f"cannot {action} {path}: {error}") from error


def _require_file(path: Path) -> None:
    """Raise :class:`ImageIOError` unless ``path`` is an existing file."""
    if path.is_dir():
        raise ImageIOError(f"{path}: is a folder, not an image file")
    if not path.is_file():
        raise ImageIOError(f"{path}: no such file")


def _read_bytes(path: Path) -> bytes:
    """The content of the file ``path``."""
    _require_file(path)
    with _image_io_errors(path, "read"):
        return path.read_bytes()


@contextmanager
def _open_image(path: Path, data: bytes) -> Iterator[Image.Image]:
    """``data`` opened by Pillow (header only), refusing other formats, animated WebP and decompression bombs."""
    if not data:
        raise ImageIOError(f"{path}: empty file")
    if path.suffix.lower() in _HEIF_EXTENSIONS:
        _register_heif(path)
    with _image_io_errors(path, "read"):
        try:
            image = Image.open(io.BytesIO(data))
        except UnidentifiedImageError as error:
            raise ImageIOError(f"{path}: not an image in a supported format, or corrupt") from error
        with image:
            if image.format not in _CV2_FORMATS + _PILLOW_FORMATS:
                raise ImageIOError(f"{path}: {image.format} images are not supported")
            if image.format == "WEBP" and getattr(image, "n_frames", 1) > 1:
                raise ImageIOError(f"{path}: animated WebP ({image.n_frames} frames), not a still image")
            yield image


def _register_heif(path: Path) -> None:
    """Let Pillow open HEIC/HEIF files with the optional ``pillow-heif`` package, or say it is missing."""
    try:
        from pillow_heif import register_heif_opener
    except ImportError as error:
        message = f"{path}: reading HEIC/HEIF needs the pillow-heif package (pip install pillow-heif)"
        raise ImageIOError(message) from error
    register_heif_opener()


def _decode_cv2(data: bytes) -> np.ndarray:
    """Decode PNG / TIFF / Radiance bytes with OpenCV to a 3-channel RGB array of the file's depth.

    ``cv2.imdecode`` is used rather than ``cv2.imread``, which fails on TIFFs with an orientation tag.
    """
    pixels = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), _CV2_READ_FLAGS)
    if pixels is None:
        raise ValueError("OpenCV could not decode the file (corrupt, truncated or not an image)")
    return cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)


def _decode_pillow(image: Image.Image) -> np.ndarray:
    """Decode an image opened by Pillow to uint8 RGB, applying the EXIF orientation."""
    return np.asarray(ImageOps.exif_transpose(image).convert("RGB"))


def _decode_cmyk(image: Image.Image, profile: _Profile | None) -> np.ndarray:
    """Decode a CMYK image to uint8 sRGB by its ICC profile (without one, by Pillow's naive formula)."""
    image = ImageOps.exif_transpose(image)
    return np.asarray(image.convert("RGB")) if profile is None else _cms_to_srgb(image, profile.cms)


def _embedded_profile(path: Path, image: Image.Image) -> _Profile | None:
    """The ICC profile embedded in ``image``, None if there is none; it must be parsable and fit the pixels."""
    data = image.info.get("icc_profile")
    if not data:
        return None
    try:
        profile = _parse_profile(data)
    except (OSError, ValueError, KeyError, struct.error, ImageCms.PyCMSError) as error:
        raise ImageIOError(f"{path}: cannot parse its ICC profile ({error})") from error
    fits = {"RGB": image.mode != "CMYK", "GRAY": Image.getmodebase(image.mode) == "L", "CMYK": image.mode == "CMYK"}
    if not fits.get(profile.space, False):
        raise ImageIOError(
            f"{path}: its {profile.space} ICC profile {profile.description!r} does not fit its {image.mode} pixels"
        )
    return profile


def _parse_profile(data: bytes) -> _Profile:
    """Parse ICC profile bytes, with the float model of a matrix/TRC profile (whose transform littleCMS
    uses for the relative colorimetric intent: one without lookup tables for it)."""
    cms = ImageCms.ImageCmsProfile(io.BytesIO(data))
    info = cms.profile
    space = info.xcolor_space.strip()
    curves = matrix = None
    if info.is_matrix_shaper and not info.clut[ImageCms.Intent.RELATIVE_COLORIMETRIC][0]:
        tags = _icc_tags(data)
        if space == "GRAY":
            curves = (tags[b"kTRC"],)
        elif space == "RGB":
            curves = (tags[b"rTRC"], tags[b"gTRC"], tags[b"bTRC"])
            matrix = np.linalg.solve(_colorants(_srgb_profile().profile), _colorants(info))
        for curve in curves or ():
            _tone_curve(curve, np.zeros(1))  # an unknown curve type is a parse error
    return _Profile(info.profile_description or "", space, cms, curves, matrix)


def _icc_tags(data: bytes) -> dict[bytes, bytes]:
    """The tags of ICC profile bytes, by signature."""
    (count,) = struct.unpack_from(">I", data, 128)
    entries = (struct.unpack_from(">4sII", data, 132 + 12 * i) for i in range(count))
    return {signature: data[offset : offset + size] for signature, offset, size in entries}


def _colorants(info: ImageCms.core.CmsProfile) -> np.ndarray:
    """A matrix/TRC profile's 3x3 matrix from linear RGB to PCS XYZ (D50): the colorant tags as columns."""
    return np.array([info.red_colorant[0], info.green_colorant[0], info.blue_colorant[0]]).T


@cache
def _srgb_profile() -> ImageCms.ImageCmsProfile:
    """littleCMS's built-in sRGB profile, the working space."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _tone_curve(tag: bytes, x: np.ndarray) -> np.ndarray:
    """Evaluate an ICC ``curv`` or ``para`` tone curve (encoded value -> linear) at ``x`` in [0, 1]."""
    kind = tag[:4]
    if kind == b"curv":
        (count,) = struct.unpack_from(">I", tag, 8)
        if count == 0:
            return x
        if count == 1:
            return x ** (struct.unpack_from(">H", tag, 12)[0] / 256)
        table = np.frombuffer(tag, ">u2", count, 12) / 65535
        return np.interp(x, np.linspace(0, 1, count), table)
    if kind != b"para":
        raise ValueError(f"unsupported tone curve type {kind!r}")
    (function,) = struct.unpack_from(">H", tag, 8)
    if function > 4:
        raise ValueError(f"unsupported parametric curve function {function}")
    p = np.frombuffer(tag, ">i4", (1, 3, 4, 5, 7)[function], 12) / 65536
    if function == 0:
        return x ** p[0]
    power = np.maximum(p[1] * x + p[2], 0) ** p[0]
    if function == 1:
        return np.where(x >= -p[2] / p[1], power, 0)
    if function == 2:
        return np.where(x >= -p[2] / p[1], power + p[3], p[3])
    if function == 3:
        return np.where(x >= p[4], power, p[3] * x)
    return np.where(x >= p[4], power + p[5], p[3] * x + p[6])


def _is_srgb(profile: _Profile) -> bool:
    """Whether converting with ``profile`` leaves the 8-bit test grid (greys for a grey profile) unchanged."""
    if profile.space == "CMYK":
        return False
    grid = _SRGB_TEST_GRID[:, -256:] if profile.space == "GRAY" else _SRGB_TEST_GRID
    return np.array_equal(_to_srgb(grid, profile), grid)


def _to_srgb(pixels: np.ndarray, profile: _Profile) -> np.ndarray:
    """Convert RGB samples (grey replicated) from ``profile`` to sRGB, keeping their dtype."""
    if profile.curves is not None:
        return _shaper_to_srgb(pixels, profile)
    if pixels.dtype != np.uint8:
        raise ValueError(
            f"cannot convert 16-bit samples by its lookup-table ICC profile {profile.description!r}; "
            "convert the file to sRGB first"
        )
    grey = profile.space == "GRAY"
    return _cms_to_srgb(Image.fromarray(np.ascontiguousarray(pixels[..., 0]) if grey else pixels), profile.cms)


def _shaper_to_srgb(pixels: np.ndarray, profile: _Profile) -> np.ndarray:
    """Convert with a matrix/TRC profile in float32: tone curves, matrix to linear sRGB, clip, sRGB curve, round."""
    top = np.iinfo(pixels.dtype).max
    luts = [_tone_curve(curve, np.linspace(0, 1, top + 1)).astype(np.float32) for curve in profile.curves]
    linear = np.stack([luts[min(c, len(luts) - 1)][pixels[..., c]] for c in range(3)], axis=-1)
    if profile.matrix is not None:
        linear = linear @ profile.matrix.T.astype(np.float32)
    np.clip(linear, 0, 1, out=linear)
    dark = linear <= 0.0031308
    encoded = np.power(linear, 1 / 2.4)  # in place from here: a 12-Mpixel photo is 144 MB per float32 copy
    encoded *= 1.055
    encoded -= 0.055
    encoded[dark] = linear[dark] * 12.92
    encoded *= top
    return np.rint(encoded, out=encoded).astype(pixels.dtype)


def _cms_to_srgb(image: Image.Image, source: ImageCms.ImageCmsProfile) -> np.ndarray:
    """Convert an 8-bit Pillow image to uint8 sRGB with littleCMS (relative colorimetric, black point compensation)."""
    transform = ImageCms.buildTransform(
        source, _srgb_profile(), image.mode, "RGB",
        ImageCms.Intent.RELATIVE_COLORIMETRIC, ImageCms.Flags.BLACKPOINTCOMPENSATION,
    )
    return np.asarray(ImageCms.applyTransform(image, transform))


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


def _write_file(path: Path, data: bytes | memoryview) -> None:
    """Write ``data`` to the new file ``path`` with Python, which reports a full disk as an OSError.

    OpenCV's and OpenEXR's own file writers report nothing: ``cv2.imwrite`` returns True on a full disk.
    """
    with open(path, "xb") as file:
        file.write(data)


def _write_exr(tmp: Path, channels: dict[str, np.ndarray]) -> None:
    """Write single-part scanline EXR channels with ZIP compression and sRGB chromaticities."""
    header = {
        "compression": OpenEXR.ZIP_COMPRESSION,
        "type": OpenEXR.scanlineimage,
        "chromaticities": SRGB_CHROMATICITIES,
    }
    buffer = io.BytesIO()
    OpenEXR.File(header, channels).write(buffer)
    _write_file(tmp, buffer.getbuffer())


def _write_radiance(tmp: Path, image: np.ndarray) -> None:
    """Write a float32 BGR image as Radiance RGBE with a ``PRIMARIES=`` line after the magic line."""
    magic, rest = _encode_cv2(".hdr", image, ()).split(b"\n", 1)
    _write_file(tmp, magic + b"\n" + _RADIANCE_PRIMARIES + rest)


def _write_cv2(tmp: Path, image: np.ndarray, params: Sequence[int]) -> None:
    """Write a BGR (or grey) image encoded by OpenCV, the format chosen by ``tmp``'s extension."""
    _write_file(tmp, _encode_cv2(tmp.suffix, image, params))


def _encode_cv2(extension: str, image: np.ndarray, params: Sequence[int]) -> bytes:
    """A BGR (or grey) image encoded by OpenCV in the format of ``extension``."""
    ok, encoded = cv2.imencode(extension, image, list(params))
    if not ok:
        raise RuntimeError("OpenCV could not encode the image")
    return encoded.tobytes()


def atomic_write(path: Path, encode: Callable[[Path], None]) -> None:
    """Run ``encode`` on a hidden temporary sibling of ``path`` with its extension, then move it onto ``path``.

    On failure the temporary file is removed and an existing ``path`` is left untouched. A full disk or
    quota raises :class:`NoSpaceError` naming ``path``'s folder and name.
    """
    with _image_io_errors(path, "write"), _no_space_left(lambda error: [path]):
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
    ``overwrite``, and then nothing is moved. On any failure every temporary is removed. A full disk or
    quota raises :class:`NoSpaceError` naming the file being written (found by its temporary's or final
    name in the error; the whole group if the error names none).
    """
    token = secrets.token_hex(6)
    staged = {path: path.with_name(f".{path.stem}.{token}.tmp{path.suffix}") for path in paths}
    try:
        with _no_space_left(partial(_files_named, staged=staged)):
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


def _files_named(error: OSError, staged: dict[Path, Path]) -> list[Path]:
    """The files of an output group that ``error`` names by final or temporary path; all of them if none."""
    named = set(getattr(error, "paths", ()))
    if isinstance(error.filename, (str, os.PathLike)):
        named.add(Path(error.filename))
    return [path for path, tmp in staged.items() if {path, tmp} & named] or list(staged)


@contextmanager
def _no_space_left(files: Callable[[OSError], Sequence[Path]]) -> Iterator[None]:
    """Re-raise a full disk or quota (ENOSPC, EDQUOT) as :class:`NoSpaceError` naming ``files(error)``."""
    try:
        yield
    except OSError as error:
        if error.errno not in _DISK_FULL:
            raise
        paths = files(error)
        reason = "disk quota exceeded" if error.errno == errno.EDQUOT else "no space left"
        where = "; ".join(
            f"on {folder} writing {', '.join(path.name for path in paths if path.parent == folder)}"
            for folder in dict.fromkeys(path.parent for path in paths)
        )
        no_space = NoSpaceError(f"{reason} {where}")
        no_space.errno, no_space.paths = error.errno, tuple(paths)
        raise no_space from error


@contextmanager
def _folder_lock(folder: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``folder`` (other processes taking it wait)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock
