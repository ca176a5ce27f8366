"""HDR-VDP-2 exporter: the files and the manifest agree, values follow the normalisation protocol."""

from __future__ import annotations

import json
import math

import numpy as np
import OpenEXR
import pytest

from hdrsyn.io import read_hdr
from hdrsyn.metrics.display import pixels_per_degree
from hdrsyn.metrics.export import MANIFEST_NAME, HDRVDPExporter
from hdrsyn.metrics.normalization import HDRNormalization, normalize_hdr


def test_pixels_per_degree_of_the_paper_display() -> None:
    # 24-inch 16:10 display: height 323.1 mm, 2 atan(161.6 / 500) = 35.81 deg over 1200 px
    height_mm = 24 * 25.4 / math.sqrt(1 + 1.6**2)
    assert pixels_per_degree() == pytest.approx(1200 / (2 * math.degrees(math.atan(height_mm / 2 / 500))))
    assert pixels_per_degree() == pytest.approx(33.51, abs=0.005)
    assert pixels_per_degree(24, (1920, 1080), 0.5) == pytest.approx(32.45, abs=0.005)
    with pytest.raises(ValueError):
        pixels_per_degree(24, (1920, 1200), 0.0)


def test_writes_what_the_manifest_says(tmp_path, hdr_pair) -> None:
    pred, target = (x.float() for x in hdr_pair)
    exporter = HDRVDPExporter(tmp_path / "vdp")
    exporter.add(["t01", "t02"], pred[:2], target[:2])
    exporter.add(["C03"], pred[2:], target[2:])
    manifest_path = exporter.write_manifest()
    assert manifest_path == tmp_path / "vdp" / MANIFEST_NAME
    manifest = json.loads(manifest_path.read_text())

    assert manifest["normalization"] == json.loads(json.dumps(HDRNormalization().as_dict()))
    vdp = manifest["hdrvdp"]
    assert vdp["color_encoding"] == "rgb-bt.709"
    assert vdp["pixels_per_degree"] == pytest.approx(pixels_per_degree(24, (1920, 1200), 0.5))
    assert vdp["ppd_call"] == "ppd = hdrvdp_pix_per_deg(24, [1920 1200], 0.5);"
    assert vdp["call"] == "res = hdrvdp(pred, ref, 'rgb-bt.709', ppd);"
    assert vdp["call"] in "\n".join(vdp["matlab"]) and vdp["ppd_call"] in vdp["matlab"]

    pred_n, target_n = normalize_hdr(pred, target)
    assert [pair["name"] for pair in manifest["pairs"]] == ["t01", "t02", "C03"]
    written = {p.name for p in (tmp_path / "vdp").iterdir()}
    assert written == {MANIFEST_NAME} | {pair[k] for pair in manifest["pairs"] for k in ("pred", "ref")}
    for i, pair in enumerate(manifest["pairs"]):
        assert (pair["height"], pair["width"]) == (64, 64)
        for key, expected in (("pred", pred_n[i]), ("ref", target_n[i])):
            path = tmp_path / "vdp" / pair[key]
            channels = OpenEXR.File(str(path), separate_channels=True).channels()
            assert {name: ch.pixels.dtype for name, ch in channels.items()} == dict.fromkeys("RGB", np.float32)
            np.testing.assert_array_equal(read_hdr(path), expected.permute(1, 2, 0).numpy())
        y_ref = read_hdr(tmp_path / "vdp" / pair["ref"]) @ np.array([0.2126, 0.7152, 0.0722], np.float32)
        assert np.percentile(y_ref, [0.1, 99.9]) == pytest.approx([1.0, 1000.0], rel=1e-4)  # absolute cd/m²


def test_rejects_bad_or_repeated_names(tmp_path, hdr_pair) -> None:
    pred, target = (x[:1].float() for x in hdr_pair)
    exporter = HDRVDPExporter(tmp_path)
    exporter.add(["a"], pred, target)
    for names in (["a"], ["../x"], ["b", "c"], [""]):
        with pytest.raises(ValueError):
            exporter.add(names, pred, target)
    assert len(exporter.pairs) == 1
