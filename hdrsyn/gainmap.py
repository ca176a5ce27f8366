"""Gain-map JPEGs (Ultra HDR): an HDR photo as an ordinary JPEG that HDR displays brighten.

The file is the SDR base rendition (our tone-mapped preview) followed by a gain map, one 8-bit JPEG
each, the way Android's Ultra HDR v1 and Adobe's gain-map specification lay them out and Chrome,
Android and iOS galleries read them:

* primary image: ``APP1`` XMP with ``hdrgm:Version="1.0"`` and the ``Container:Directory`` of the two
  images, ``APP2`` ISO 21496-1 version block, ``APP2`` MPF (CIPA DC-007) pointing at the gain map;
* gain map: ``APP1`` XMP with the ``hdrgm`` metadata (:class:`GainMapMetadata`) and ``APP2`` with the
  same metadata in ISO 21496-1 binary form (the one Chrome and libultrahdr prefer).

The HDR rendition is the radiance at the exposure of the tone map (:func:`sdr_exposure`: Reinhard's,
log-average luminance -> 0.18), so that 1.0 is the SDR base's white. The gain map is single-channel:
``log2((Y_hdr + 1/64) / (Y_sdr + 1/64))`` of Rec.709 luminance ``Y`` against the base as a decoder
sees it (the decoded base JPEG, sRGB curve), so the base's JPEG error is compensated and every display
recovers the HDR luminance; colour is the base's.

Headroom policy: the HDR rendition keeps highlights up to ``2**headroom`` times SDR white (default
:data:`HEADROOM` = 4 stops, 16x, enough for the +3 EV of our stacks); brighter pixels come back at that
luminance (clipped, hue kept). ``HDRCapacityMax`` is the stops of the brightest HDR pixel over SDR white
(at most ``headroom``): a display with that much headroom shows the full HDR, one with less scales the
gains down in log space (the specification's weighting), an SDR display shows the base. The gains
themselves span ``GainMapMin..GainMapMax`` (where the base is dark, a gain can exceed ``headroom``).
Round trip (``tests/hdrsyn/test_gainmap.py``): within 0.03 stops mean and 0.1 stops at the 99th
percentile of log2 luminance from ``2**-6`` to ``2**headroom`` times SDR white, through our reader and
through libultrahdr's.

Encoder choice: ``imagecodecs.ultrahdr_encode`` (libultrahdr) takes only the HDR image and makes its
own SDR base and boost range, and ``pyultrahdr`` builds HDR from SDR; neither writes our tone map as
the base, so the container is written here (short, tested against libultrahdr's decoder).
"""

from __future__ import annotations

import io
import math
import struct
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

from hdrsyn.io import atomic_write
from hdrsyn.render import luminance
from ops.tonemap import BT709_WEIGHTS

#: Stops above SDR white that the HDR rendition keeps (brighter luminance is clipped to it).
HEADROOM = 4.0
#: ``hdrgm:OffsetSDR`` / ``OffsetHDR``: the Adobe specification's default, keeps near-black ratios finite.
OFFSET = 1 / 64
#: Reinhard's key, as in the previews: the log-average luminance of the HDR rendition.
KEY = 0.18
#: The denominator of the ISO 21496-1 fractions; metadata values are rounded to multiples of its inverse.
DENOMINATOR = 1 << 16

XMP_NAMESPACE = b"http://ns.adobe.com/xap/1.0/\0"
ISO_NAMESPACE = b"urn:iso:std:iso:ts:21496:-1\0"
HDRGM = "http://ns.adobe.com/hdr-gain-map/1.0/"
_RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
_EPS = 1e-6
_LEVELS = np.arange(256) / 255
_SRGB_LINEAR = np.where(_LEVELS <= 0.04045, _LEVELS / 12.92, ((_LEVELS + 0.055) / 1.055) ** 2.4).astype(np.float32)
# ISO 21496-1 flags: gain map applied in the base image's colour space; one fraction denominator for all.
_ISO_BASE_COLOUR_SPACE, _ISO_COMMON_DENOMINATOR = 0x40, 0x08
#: ``hdrgm`` XMP names of the :class:`GainMapMetadata` fields.
_XMP_FIELDS = {"GainMapMin": "gain_map_min", "GainMapMax": "gain_map_max", "Gamma": "gamma",
               "OffsetSDR": "offset_sdr", "OffsetHDR": "offset_hdr", "HDRCapacityMin": "hdr_capacity_min",
               "HDRCapacityMax": "hdr_capacity_max"}
_MPF_SIZE = 4 + 4 + 4 + 2 + 3 * 12 + 4 + 2 * 16  # signature, TIFF header, IFD: 3 tags, next IFD, 2 entries


@dataclass(frozen=True)
class GainMapMetadata:
    """The ``hdrgm`` values of a gain map; boosts and capacities in stops (log2), as the XMP holds them.

    Example:
        >>> meta = GainMapMetadata(gain_map_min=0.0, gain_map_max=3.5, hdr_capacity_max=3.5)
        >>> GainMapMetadata.from_iso(meta.iso()) == meta == GainMapMetadata.from_xmp(meta.xmp())
        True
    """

    gain_map_min: float
    gain_map_max: float
    hdr_capacity_max: float
    gamma: float = 1.0
    offset_sdr: float = OFFSET
    offset_hdr: float = OFFSET
    hdr_capacity_min: float = 0.0

    def __post_init__(self) -> None:
        for name, value in vars(self).items():  # the grid of the ISO fractions, so that XMP and ISO agree
            object.__setattr__(self, name, round(float(value) * DENOMINATOR) / DENOMINATOR)
        if not (self.gain_map_min <= self.gain_map_max and self.gamma > 0 and self.offset_sdr >= 0
                and self.offset_hdr >= 0 and 0 <= self.hdr_capacity_min < self.hdr_capacity_max):
            raise ValueError(f"invalid gain map metadata {self}")

    def xmp(self) -> bytes:
        """The gain map image's XMP packet: ``hdrgm:*`` attributes of one ``rdf:Description``."""
        values = " ".join(f'hdrgm:{key}="{getattr(self, name)!r}"' for key, name in _XMP_FIELDS.items())
        return _xmp(f'xmlns:hdrgm="{HDRGM}" hdrgm:Version="1.0" {values} hdrgm:BaseRenditionIsHDR="False"')

    @classmethod
    def from_xmp(cls, packet: bytes) -> GainMapMetadata:
        """Read the ``hdrgm`` values of an XMP packet (attributes or elements; one value for all channels)."""
        found: dict[str, str] = {}
        for node in ElementTree.fromstring(packet).iter(f"{{{_RDF}}}Description"):
            found.update({k.split("}")[1]: v for k, v in node.attrib.items() if k.startswith(f"{{{HDRGM}}}")})
            found.update({c.tag.split("}")[1]: words[0] for c in node  # a per-channel rdf:Seq: its first value
                          if c.tag.startswith(f"{{{HDRGM}}}") and (words := " ".join(c.itertext()).split())})
        if found.get("BaseRenditionIsHDR", "False").lower() == "true":
            raise ValueError("gain maps whose base rendition is HDR are not supported")
        values = {_XMP_FIELDS[key]: float(value) for key, value in found.items() if key in _XMP_FIELDS}
        if "gain_map_max" not in values or "hdr_capacity_max" not in values:
            raise ValueError("no hdrgm:GainMapMax / hdrgm:HDRCapacityMax in the XMP")
        return cls(**{"gain_map_min": 0.0, **values})  # the specification's default

    def iso(self) -> bytes:
        """The ISO 21496-1 gain map metadata (after its namespace): versions, flags, fractions over
        :data:`DENOMINATOR`, one channel."""
        numerators = [round(v * DENOMINATOR) for v in (self.hdr_capacity_min, self.hdr_capacity_max,
                                                        self.gain_map_min, self.gain_map_max, self.gamma,
                                                        self.offset_sdr, self.offset_hdr)]
        return struct.pack(">HHBIIIiiIii", 0, 0, _ISO_BASE_COLOUR_SPACE | _ISO_COMMON_DENOMINATOR,
                           DENOMINATOR, *numerators)

    @classmethod
    def from_iso(cls, payload: bytes) -> GainMapMetadata:
        """Read what :meth:`iso` writes (a common denominator, one channel, forward direction)."""
        version, _, flags = struct.unpack_from(">HHB", payload)
        if version != 0 or flags & 0x80 or flags & 0x04 or not flags & _ISO_COMMON_DENOMINATOR:
            raise ValueError(f"unsupported ISO 21496-1 gain map metadata (version {version}, flags {flags:#x})")
        denominator, *numerators = struct.unpack_from(">IIIiiIii", payload, 5)
        cap_min, cap_max, low, high, gamma, offset_sdr, offset_hdr = (n / denominator for n in numerators)
        return cls(low, high, cap_max, gamma, offset_sdr, offset_hdr, cap_min)


@dataclass(frozen=True)
class UltraHDR:
    """An encoded gain-map JPEG: its bytes, metadata, and the factor from radiance to the HDR rendition
    (1.0 = SDR white)."""

    data: bytes
    metadata: GainMapMetadata
    exposure: float


def as_levels(image: np.ndarray) -> np.ndarray:
    """8-bit levels of an image: uint8 as it is, float in [0, 1] clipped and rounded (as
    :func:`hdrsyn.io.write_ldr` writes it).

    Example:
        >>> as_levels(np.array([-0.1, 0.5, 1.0])).tolist()
        [0, 128, 255]
    """
    image = np.asarray(image)
    return image if image.dtype == np.uint8 else np.round(np.clip(image, 0.0, 1.0) * 255).astype(np.uint8)


def srgb_to_linear(levels: np.ndarray) -> np.ndarray:
    """The sRGB EOTF of 8-bit ``levels``, as gain-map decoders linearise the base image.

    Example:
        >>> [round(float(v), 4) for v in srgb_to_linear(np.array([0, 128, 255], dtype=np.uint8))]
        [0.0, 0.2159, 1.0]
    """
    return _SRGB_LINEAR[np.asarray(levels, dtype=np.uint8)]


def sdr_exposure(lum: np.ndarray, key: float = KEY) -> float:
    """The scale that puts the log-average of luminance ``lum`` at ``key``: Reinhard's (and the previews')
    exposure, which makes 1.0 the SDR white of the tone-mapped base.

    Example:
        >>> round(sdr_exposure(np.full((2, 2), 0.5, dtype=np.float32)), 4)
        0.36
    """
    return float(key / math.exp(float(np.mean(np.log(np.maximum(lum, 0.0) + _EPS), dtype=np.float64))))


def encode_ultrahdr(
    radiance: np.ndarray, sdr: np.ndarray, headroom: float = HEADROOM, quality: int = 95, map_scale: int = 1,
    iso: bool = True,
) -> UltraHDR:
    """A gain-map JPEG of linear ``radiance`` ``(H, W, 3)`` over the sRGB base ``sdr`` ``(H, W, 3)``, uint8 or
    float in [0, 1] (the tone-mapped preview of the same radiance, as written to ``<stem>_preview.png``).

    Args:
        headroom: stops above SDR white kept in the HDR rendition (the module's headroom policy).
        quality: JPEG quality of the base and of the gain map.
        map_scale: the gain map is ``map_scale`` times smaller on each side (1 = full resolution).
        iso: also write the ISO 21496-1 metadata (else the XMP only).
    """
    radiance, sdr = np.asarray(radiance), np.asarray(sdr)
    if radiance.ndim != 3 or radiance.shape[-1] != 3 or sdr.shape != radiance.shape \
            or not np.issubdtype(radiance.dtype, np.floating) or sdr.dtype not in (np.uint8, np.float32, np.float64):
        raise ValueError(f"expected float radiance and uint8 or float sdr of one (H, W, 3) shape, got "
                         f"{radiance.dtype} {radiance.shape} and {sdr.dtype} {sdr.shape}")
    sdr = as_levels(sdr)
    if not headroom > 0 or map_scale < 1:
        raise ValueError(f"headroom must be > 0 and map_scale >= 1, got {headroom} and {map_scale}")
    base = _jpeg(sdr, quality)
    lum = np.nan_to_num(np.maximum(luminance(np.asarray(radiance, dtype=np.float32)), 0.0))
    exposure = sdr_exposure(lum)
    gain_map, metadata = gain_map_of(lum * np.float32(exposure), _decoded_luminance(base), headroom, map_scale)
    secondary = _with_segments(_jpeg(gain_map, quality), _app(0xE1, XMP_NAMESPACE + metadata.xmp()),
                               *([_app(0xE2, ISO_NAMESPACE + metadata.iso())] if iso else []))
    primary = _with_segments(base, _app(0xE1, XMP_NAMESPACE + _primary_xmp(len(secondary))),
                             *([_app(0xE2, ISO_NAMESPACE + bytes(4))] if iso else []))
    return UltraHDR(_with_mpf(primary, len(secondary)) + secondary, metadata, exposure)


def write_ultrahdr(path: Path, radiance: np.ndarray, sdr: np.ndarray, **options) -> UltraHDR:
    """:func:`encode_ultrahdr` written atomically to ``path`` (``.jpg``); returns what was written."""
    result = encode_ultrahdr(radiance, sdr, **options)
    atomic_write(Path(path), lambda tmp: tmp.write_bytes(result.data))
    return result


def gain_map_of(
    hdr_luminance: np.ndarray, sdr_luminance: np.ndarray, headroom: float = HEADROOM, map_scale: int = 1,
) -> tuple[np.ndarray, GainMapMetadata]:
    """The 8-bit gain map (``map_scale`` times smaller) and metadata taking linear SDR luminance to HDR
    luminance clipped at ``2**headroom``; gamma 1, offsets :data:`OFFSET`, ``HDRCapacityMax`` the stops
    of the brightest HDR pixel over SDR white (the display headroom that shows it all).

    Example:
        >>> gains, meta = gain_map_of(np.array([[0.5, 8.0]]), np.array([[0.5, 1.0]]))
        >>> gains.tolist(), meta.gain_map_min, round(meta.gain_map_max, 3), meta.hdr_capacity_max
        ([[0, 255]], 0.0, 2.98, 3.0)
    """
    target = np.minimum(hdr_luminance, 2.0**headroom)
    log_gain = np.log2((target + OFFSET) / (sdr_luminance + OFFSET)).astype(np.float32)
    if map_scale > 1:
        height, width = log_gain.shape
        size = (math.ceil(width / map_scale), math.ceil(height / map_scale))
        log_gain = cv2.resize(log_gain, size, interpolation=cv2.INTER_AREA)
    low, high = float(log_gain.min()), float(log_gain.max())
    capacity = max(math.log2(max(float(target.max()), 1.0)), 1 / 256)
    metadata = GainMapMetadata(low, max(high, low + 1 / 256), capacity)
    span = metadata.gain_map_max - metadata.gain_map_min
    normalised = np.clip((log_gain - metadata.gain_map_min) / span, 0.0, 1.0)
    return np.round(normalised * 255).astype(np.uint8), metadata


def apply_gain_map(
    base: np.ndarray, gain_map: np.ndarray, metadata: GainMapMetadata, display_headroom: float | None = None,
) -> np.ndarray:
    """The HDR rendition (linear, 1.0 = SDR white) of an 8-bit sRGB ``base`` and 8-bit ``gain_map`` (one or
    three channels, any size, resized bilinearly), by the Adobe / ISO 21496-1 formula; ``display_headroom``
    (stops) weights the gains as a display with that headroom would (None: the full HDR)."""
    gains = cv2.resize(gain_map, base.shape[1::-1], interpolation=cv2.INTER_LINEAR) if gain_map.shape[:2] != \
        base.shape[:2] else gain_map
    gains = (gains.astype(np.float32) / 255) ** (1 / metadata.gamma)
    gains = gains[..., None] if gains.ndim == 2 else gains
    log_boost = metadata.gain_map_min + (metadata.gain_map_max - metadata.gain_map_min) * gains
    weight = 1.0
    if display_headroom is not None:
        weight = np.clip((display_headroom - metadata.hdr_capacity_min)
                         / (metadata.hdr_capacity_max - metadata.hdr_capacity_min), 0.0, 1.0)
    return (srgb_to_linear(base) + metadata.offset_sdr) * np.exp2(log_boost * weight) - metadata.offset_hdr


def read_ultrahdr(data: bytes, display_headroom: float | None = None) -> tuple[np.ndarray, GainMapMetadata]:
    """Decode a gain-map JPEG: the primary's MPF locates the gain map, the gain map's XMP gives the
    metadata, Pillow decodes both images and :func:`apply_gain_map` makes the HDR rendition ``(H, W, 3)``
    float32 (1.0 = SDR white)."""
    start, size = _gain_map_entry(data)
    gain_map_jpeg = data[start:start + size]
    packets = [payload for marker, payload in _segments(gain_map_jpeg)
               if marker == 0xE1 and payload.startswith(XMP_NAMESPACE)]
    if not packets:
        raise ValueError("the gain map image has no XMP metadata")
    metadata = GainMapMetadata.from_xmp(packets[0][len(XMP_NAMESPACE):])
    with Image.open(io.BytesIO(data)) as base, Image.open(io.BytesIO(gain_map_jpeg)) as gains:
        base_pixels = np.asarray(base.convert("RGB"))
        gain_pixels = np.asarray(gains if gains.mode == "L" else gains.convert("RGB"))
    return apply_gain_map(base_pixels, gain_pixels, metadata, display_headroom).astype(np.float32), metadata


def _segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """The ``(marker, payload)`` of a JPEG's segments before its first scan."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    found, position = [], 2
    while position + 4 <= len(jpeg) and jpeg[position] == 0xFF and jpeg[position + 1] != 0xDA:
        length = struct.unpack_from(">H", jpeg, position + 2)[0]
        found.append((jpeg[position + 1], jpeg[position + 4:position + 2 + length]))
        position += 2 + length
    return found


def _gain_map_entry(data: bytes) -> tuple[int, int]:
    """``(start, size)`` in ``data`` of the second image that the primary's MPF ``APP2`` lists."""
    position = 2
    for marker, payload in _segments(data):
        if marker == 0xE2 and payload.startswith(b"MPF\0"):
            order = ">" if payload[4:6] == b"MM" else "<"
            header = position + 4 + 4  # where the TIFF header after "MPF\0" starts in the file
            ifd = struct.unpack_from(order + "I", payload, 8)[0] + 4
            for i in range(struct.unpack_from(order + "H", payload, ifd)[0]):
                tag, _, count, offset = struct.unpack_from(order + "HHII", payload, ifd + 2 + 12 * i)
                if tag == 0xB002 and count >= 32:
                    size, start = struct.unpack_from(order + "II", payload, 4 + offset + 16 + 4)
                    return header + start, size
        position += 4 + len(payload)
    raise ValueError("not a gain-map JPEG: no MPF entry of a second image")


def _decoded_luminance(jpeg: bytes) -> np.ndarray:
    """Linear luminance of a JPEG's pixels as a decoder sees them (sRGB EOTF), one channel at a time."""
    with Image.open(io.BytesIO(jpeg)) as image:
        levels = np.asarray(image.convert("RGB"))
    lum = np.zeros(levels.shape[:2], np.float32)
    for channel, weight in enumerate(np.float32(BT709_WEIGHTS)):
        lum += weight * srgb_to_linear(levels[..., channel])
    return lum


def _jpeg(pixels: np.ndarray, quality: int) -> bytes:
    """Baseline JPEG of 8-bit RGB or grey pixels (Pillow; no ICC profile, so sRGB)."""
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def _app(marker: int, payload: bytes) -> bytes:
    """One JPEG application segment: ``FF marker``, big-endian length (itself included), payload."""
    if len(payload) + 2 > 0xFFFF:
        raise ValueError(f"APP segment payload of {len(payload)} bytes is too long")
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def _with_segments(jpeg: bytes, *segments: bytes) -> bytes:
    """``jpeg`` with ``segments`` after its SOI and JFIF ``APP0`` (if any)."""
    if jpeg[:2] != b"\xff\xd8":
        raise ValueError("not a JPEG stream")
    position = 2
    if jpeg[2:4] == b"\xff\xe0":
        position += 2 + struct.unpack_from(">H", jpeg, 4)[0]
    return jpeg[:position] + b"".join(segments) + jpeg[position:]


def _with_mpf(primary: bytes, secondary_size: int) -> bytes:
    """``primary`` with its MPF ``APP2`` appended to its header segments: two big-endian MP entries, the
    primary image (whole file size) and the gain map that follows it (offset from the MPF header)."""
    position = _header_end(primary)
    segment_size = 4 + _MPF_SIZE
    primary_size = len(primary) + segment_size
    offset = primary_size - (position + 8)  # MPF offsets count from the TIFF header after "MPF\0"
    entries_offset = 8 + 2 + 3 * 12 + 4
    mpf = b"MPF\0" + b"MM\0\x2a" + struct.pack(">I", 8) + struct.pack(">H", 3)
    mpf += struct.pack(">HHI4s", 0xB000, 7, 4, b"0100")
    mpf += struct.pack(">HHII", 0xB001, 4, 1, 2)
    mpf += struct.pack(">HHII", 0xB002, 7, 32, entries_offset)
    mpf += struct.pack(">I", 0)
    mpf += struct.pack(">IIIHH", 0x030000, primary_size, 0, 0, 0)
    mpf += struct.pack(">IIIHH", 0, secondary_size, offset, 0, 0)
    return primary[:position] + _app(0xE2, mpf) + primary[position:]


def _header_end(jpeg: bytes) -> int:
    """The position after a JPEG's leading ``APPn`` segments."""
    position = 2
    while jpeg[position] == 0xFF and 0xE0 <= jpeg[position + 1] <= 0xEF:
        position += 2 + struct.unpack_from(">H", jpeg, position + 2)[0]
    return position


def _primary_xmp(secondary_size: int) -> bytes:
    """The primary image's XMP: ``hdrgm:Version`` and the Google container directory of both images."""
    item = ('<rdf:li rdf:parseType="Resource"><Container:Item Item:Semantic="{}" Item:Mime="image/jpeg"{}/>'
            '</rdf:li>')
    directory = item.format("Primary", "") + item.format("GainMap", f' Item:Length="{secondary_size}"')
    return _xmp('xmlns:Container="http://ns.google.com/photos/1.0/container/" '
                'xmlns:Item="http://ns.google.com/photos/1.0/container/item/" '
                f'xmlns:hdrgm="{HDRGM}" hdrgm:Version="1.0"',
                f"<Container:Directory><rdf:Seq>{directory}</rdf:Seq></Container:Directory>")


def _xmp(attributes: str, body: str = "") -> bytes:
    """An XMP packet of one ``rdf:Description`` with ``attributes`` and ``body``."""
    description = f"<rdf:Description rdf:about=\"\" {attributes}>{body}</rdf:Description>"
    return (f'<x:xmpmeta xmlns:x="adobe:ns:meta/" x:xmptk="hdrsyn"><rdf:RDF xmlns:rdf="{_RDF}">'
            f"{description}</rdf:RDF></x:xmpmeta>").encode()
