"""Gain-map JPEGs (:mod:`hdrsyn.gainmap`): metadata, container, and the HDR round trip through our reader
and through Google's libultrahdr (``imagecodecs``), compared with the .exr in log2 luminance."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hdrsyn import gainmap
from hdrsyn.gainmap import (
    HEADROOM,
    ISO_NAMESPACE,
    OFFSET,
    XMP_NAMESPACE,
    GainMapMetadata,
    apply_gain_map,
    encode_ultrahdr,
    read_ultrahdr,
    srgb_to_linear,
    write_ultrahdr,
)
from hdrsyn.io import read_hdr, write_hdr
from hdrsyn.render import luminance
from ops.tonemap import hdr_preview

#: Round-trip bounds (stops of log2 luminance) over the pixels from 2**-6 to 2**HEADROOM times SDR white.
MEAN_ERROR, P99_ERROR = 0.03, 0.1


@pytest.fixture(scope="module")
def radiance() -> np.ndarray:
    """A 48x64 scene: a colour ramp over 12 stops with fine texture and a lamp far beyond the headroom."""
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:48, 0:64].astype(np.float32)
    lum = np.exp2(x / 63 * 12 - 8) * (1 + 0.2 * np.sin(y / 3))
    rgb = lum[..., None] * np.stack([1 + 0.3 * np.sin(y / 7), np.ones_like(y), 1 - 0.3 * np.sin(x / 9)], -1)
    rgb *= rng.uniform(0.97, 1.03, (48, 64, 1))
    rgb[20:28, 40:48] = 3000.0  # a lamp
    return rgb.astype(np.float32)


@pytest.fixture(scope="module")
def preview(radiance: np.ndarray) -> np.ndarray:
    """The 8-bit preview of ``radiance``, as ``hdrsyn reconstruct`` makes it (Reinhard, gamma 2.2)."""
    image = hdr_preview(torch.from_numpy(radiance).permute(2, 0, 1)[None])[0].permute(1, 2, 0).numpy()
    return np.round(image * 255).astype(np.uint8)


@pytest.fixture(scope="module")
def encoded(radiance: np.ndarray, preview: np.ndarray) -> gainmap.UltraHDR:
    return encode_ultrahdr(radiance, preview)


def log2_errors(decoded: np.ndarray, radiance: np.ndarray, exposure: float) -> tuple[np.ndarray, np.ndarray]:
    """|log2 luminance error| of a decoded HDR rendition against ``radiance`` (clipped at the headroom),
    and the mask of pixels within [2**-6, 2**HEADROOM] x SDR white."""
    target = np.minimum(luminance(radiance) * exposure, 2.0**HEADROOM)
    error = np.abs(np.log2(np.maximum(luminance(decoded), 1e-9)) - np.log2(target))
    return error, (target >= 2.0**-6) & (target <= 2.0**HEADROOM)


def segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """``(marker, payload)`` of the segments before the first scan, parsed here independently."""
    found, position = [], 2
    while jpeg[position + 1] != 0xDA:
        length = struct.unpack(">H", jpeg[position + 2:position + 4])[0]
        found.append((jpeg[position + 1], jpeg[position + 4:position + 2 + length]))
        position += 2 + length
    return found


def test_metadata_xmp_and_iso_agree() -> None:
    meta = GainMapMetadata(gain_map_min=-0.25, gain_map_max=5.5, hdr_capacity_max=4.0)
    assert (meta.offset_sdr, meta.offset_hdr, meta.gamma, meta.hdr_capacity_min) == (OFFSET, OFFSET, 1.0, 0.0)
    xmp = meta.xmp().decode()
    for field in ('hdrgm:Version="1.0"', 'hdrgm:GainMapMin="-0.25"', 'hdrgm:GainMapMax="5.5"', 'hdrgm:Gamma="1.0"',
                  'hdrgm:OffsetSDR="0.015625"', 'hdrgm:HDRCapacityMin="0.0"', 'hdrgm:HDRCapacityMax="4.0"',
                  'hdrgm:BaseRenditionIsHDR="False"'):
        assert field in xmp
    iso = meta.iso()
    # versions 0/0, flags: base colour space + common denominator, then denominator and 7 numerators
    assert struct.unpack(">HHBIIIiiIii", iso) == (0, 0, 0x48, 65536, 0, 4 * 65536, -65536 // 4, 5 * 65536 + 32768,
                                                   65536, 1024, 1024)
    assert GainMapMetadata.from_iso(iso) == meta == GainMapMetadata.from_xmp(meta.xmp())


def test_metadata_reads_element_form_and_rejects_invalid() -> None:
    packet = (b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
              b'<rdf:Description xmlns:hdrgm="http://ns.adobe.com/hdr-gain-map/1.0/" hdrgm:Version="1.0">'
              b"<hdrgm:GainMapMax>3</hdrgm:GainMapMax><hdrgm:HDRCapacityMax>3</hdrgm:HDRCapacityMax>"
              b"</rdf:Description></rdf:RDF></x:xmpmeta>")
    meta = GainMapMetadata.from_xmp(packet)
    assert (meta.gain_map_min, meta.gain_map_max, meta.hdr_capacity_max, meta.offset_sdr) == (0.0, 3.0, 3.0, OFFSET)
    with pytest.raises(ValueError, match="invalid gain map metadata"):
        GainMapMetadata(gain_map_min=2.0, gain_map_max=1.0, hdr_capacity_max=1.0)
    with pytest.raises(ValueError, match="invalid gain map metadata"):
        GainMapMetadata(gain_map_min=0.0, gain_map_max=1.0, hdr_capacity_max=0.0)
    with pytest.raises(ValueError, match="base rendition is HDR"):
        GainMapMetadata.from_xmp(packet.replace(b'hdrgm:Version="1.0"', b'hdrgm:BaseRenditionIsHDR="True"'))


def test_container_layout(encoded: gainmap.UltraHDR, preview: np.ndarray) -> None:
    data = encoded.data
    primary = segments(data)
    assert [marker for marker, _ in primary[:4]] == [0xE0, 0xE1, 0xE2, 0xE2]  # JFIF, XMP, ISO version, MPF
    xmp = primary[1][1]
    assert xmp.startswith(XMP_NAMESPACE) and b'hdrgm:Version="1.0"' in xmp
    assert primary[2][1] == ISO_NAMESPACE + bytes(4)
    mpf = primary[3][1]
    assert mpf[:8] == b"MPF\0MM\0\x2a"
    # the two MP entries: primary (type 0x030000, whole primary, offset 0) and the gain map after it
    entries = struct.unpack(">IIIHHIIIHH", mpf[4 + 50:4 + 82])
    header = data.index(mpf) + 4  # the TIFF header after "MPF\0"
    primary_size, gain_map_size, gain_map_offset = entries[1], entries[6], entries[7]
    assert entries[0] == 0x030000 and entries[2] == 0 and entries[5] == 0
    assert primary_size + gain_map_size == len(data)
    assert header + gain_map_offset == primary_size and data[primary_size:primary_size + 2] == b"\xff\xd8"
    assert f'Item:Semantic="GainMap" Item:Mime="image/jpeg" Item:Length="{gain_map_size}"'.encode() in xmp
    second = segments(data[primary_size:])
    assert second[0][1].startswith(b"JFIF")
    assert GainMapMetadata.from_xmp(second[1][1][len(XMP_NAMESPACE):]) == encoded.metadata
    assert GainMapMetadata.from_iso(second[2][1][len(ISO_NAMESPACE):]) == encoded.metadata
    with Image.open(io.BytesIO(data)) as image:  # an ordinary JPEG to any other reader
        assert (image.format, image.size) == ("JPEG", preview.shape[1::-1])
        assert np.abs(np.asarray(image, np.int16) - preview).mean() < 2


def test_headroom_policy(encoded: gainmap.UltraHDR, radiance: np.ndarray) -> None:
    meta = encoded.metadata
    assert meta.hdr_capacity_max == HEADROOM  # the lamp reaches the headroom: a display needs 4 stops for all
    assert meta.gain_map_max > HEADROOM - 0.5 and meta.gain_map_min > -1
    hdr, _ = read_ultrahdr(encoded.data)
    lamp = luminance(hdr[21:27, 41:47])
    np.testing.assert_allclose(np.log2(lamp), HEADROOM, atol=0.1)  # clipped at 2**4 x SDR white
    sdr, _ = read_ultrahdr(encoded.data, display_headroom=0.0)  # an SDR display shows the base
    with Image.open(io.BytesIO(encoded.data)) as image:
        np.testing.assert_allclose(sdr, srgb_to_linear(np.asarray(image)), atol=1e-5)


def test_round_trip_through_exr_and_our_reader(radiance: np.ndarray, preview: np.ndarray, tmp_path: Path) -> None:
    write_hdr(tmp_path / "photo.exr", radiance, precision="float")
    path = tmp_path / "photo_uhdr.jpg"
    written = write_ultrahdr(path, radiance, preview)
    assert path.read_bytes() == written.data
    hdr, meta = read_ultrahdr(path.read_bytes())
    error, mask = log2_errors(hdr, read_hdr(tmp_path / "photo.exr"), written.exposure)
    assert mask.mean() > 0.7
    assert error[mask].mean() < MEAN_ERROR and np.quantile(error[mask], 0.99) < P99_ERROR, (
        error[mask].mean(), np.quantile(error[mask], 0.99))


@pytest.mark.parametrize("iso", [True, False], ids=["iso+xmp", "xmp-only"])
def test_round_trip_through_libultrahdr(radiance: np.ndarray, preview: np.ndarray, iso: bool) -> None:
    """Google's reference decoder (libultrahdr, through imagecodecs) reads the file, with either metadata."""
    imagecodecs = pytest.importorskip("imagecodecs", reason="imagecodecs (libultrahdr) is a dev dependency")
    if not imagecodecs.ULTRAHDR.available:
        pytest.skip("this imagecodecs build has no libultrahdr")
    result = encode_ultrahdr(radiance, preview, iso=iso)
    assert imagecodecs.ultrahdr_check(result.data)
    hdr = imagecodecs.ultrahdr_decode(result.data).astype(np.float32)[..., :3]  # linear, 1.0 = SDR white
    error, mask = log2_errors(hdr, radiance, result.exposure)
    assert error[mask].mean() < MEAN_ERROR and np.quantile(error[mask], 0.99) < P99_ERROR, (
        error[mask].mean(), np.quantile(error[mask], 0.99))
    if iso:  # libultrahdr takes the ISO block over the XMP: one that doubles the boosts doubles them
        meta = result.metadata
        iso_block = ISO_NAMESPACE + meta.iso()
        doubled = GainMapMetadata(2 * meta.gain_map_min, 2 * meta.gain_map_max, meta.hdr_capacity_max)
        tampered = result.data.replace(iso_block, ISO_NAMESPACE + doubled.iso())
        assert tampered != result.data
        brighter = imagecodecs.ultrahdr_decode(tampered).astype(np.float32)[..., :3]
        assert np.median(np.log2(luminance(brighter)[mask] / luminance(hdr)[mask])) > 0.5
    # A display with 2 stops of headroom: libultrahdr weights the gains as our reader does.
    ours, _ = read_ultrahdr(result.data, display_headroom=2.0)
    theirs = imagecodecs.ultrahdr_decode(result.data, boost=4.0).astype(np.float32)[..., :3]
    bright = luminance(ours) > 2**-6
    assert np.median(np.abs(np.log2(luminance(theirs)[bright] / luminance(ours)[bright]))) < 0.02


def test_gain_map_scale_and_apply(radiance: np.ndarray, preview: np.ndarray) -> None:
    small = encode_ultrahdr(radiance, preview, map_scale=4)
    mpf = segments(small.data)[3][1]
    primary_size = struct.unpack(">I", mpf[4 + 50 + 4:4 + 50 + 8])[0]
    with Image.open(io.BytesIO(small.data[primary_size:])) as image:
        assert (image.mode, image.size) == ("L", (16, 12))
    assert len(small.data) < len(encode_ultrahdr(radiance, preview).data)
    flat = apply_gain_map(np.full((2, 2, 3), 255, np.uint8), np.full((1, 1), 255, np.uint8),
                          GainMapMetadata(0.0, 2.0, 2.0))
    np.testing.assert_allclose(flat, (1 + OFFSET) * 4 - OFFSET)


def test_rejects_bad_input(radiance: np.ndarray, preview: np.ndarray) -> None:
    with pytest.raises(ValueError, match="float sdr of one"):
        encode_ultrahdr(radiance, preview[:-1])
    with pytest.raises(ValueError, match="float sdr of one"):
        encode_ultrahdr(radiance, preview.astype(np.int32))
    assert encode_ultrahdr(radiance, preview / 255.0).data == encode_ultrahdr(radiance, preview).data
    with pytest.raises(ValueError, match="headroom"):
        encode_ultrahdr(radiance, preview, headroom=0)
    with pytest.raises(ValueError, match="no MPF entry"):
        read_ultrahdr(encode_ultrahdr(radiance, preview).data[:2] + b"\xff\xd9")
