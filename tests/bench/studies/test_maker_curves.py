"""``bench.studies.maker_curves``: the makers' tone curves interpolate their nodes monotonically, their responses
run from 0 to 1, and ``bench.data.extract_dcp_curves`` reads a DCP's tone curve."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import numpy as np
import pytest

from bench.data.extract_dcp_curves import family, tone_curve
from bench.studies.maker_curves import DATA, MAKER_FAMILIES, curve_nodes, maker_responses, monotone_curve
from bench.studies.unseen_responses import srgb

CURVES = [(f, name) for f in MAKER_FAMILIES for name in curve_nodes(f)]


def test_the_families_hold_the_expected_curves() -> None:
    assert len(curve_nodes("darktable basecurves")) == 11
    assert "Fujifilm X100T" not in curve_nodes("darktable basecurves")  # the X100S's nodes again
    assert sorted(curve_nodes("RawTherapee DCP tone curves")) == [
        "Adobe standard (ACR3 default)", "Fujifilm X-E1", "Sony SLT-A55V"]
    with pytest.raises(ValueError, match="'nope'"):
        maker_responses("nope")


@pytest.mark.parametrize("fam, name", CURVES)
def test_curve_is_exact_at_nodes_and_monotone_where_they_are(fam: str, name: str) -> None:
    x, y = curve_nodes(fam)[name]
    assert len(x) <= 257 and x[0] == 0.0 and x[-1] == 1.0
    curve = monotone_curve(x, y)
    np.testing.assert_allclose(curve(x), y, rtol=0, atol=1e-12)
    for k in np.flatnonzero(np.diff(y) >= 0):  # every interval whose nodes rise (or stay)
        values = curve(np.linspace(x[k], x[k + 1], 64))
        assert np.all(np.diff(values) >= -1e-12), (name, k)
        assert values.min() >= y[k] - 1e-12 and values.max() <= y[k + 1] + 1e-12


@pytest.mark.parametrize("fam, name", CURVES)
def test_response_runs_from_0_to_1_and_rises(fam: str, name: str) -> None:
    x, y = curve_nodes(fam)[name]
    start = x[np.flatnonzero(np.diff(y) < 0).max() + 1] if np.any(np.diff(y) < 0) else 0.0  # the 6D's dip
    r = maker_responses(fam)[name]
    assert r(np.array(0.0)) < 0.04 and r(np.array(1.0)) == pytest.approx(1.0, abs=1e-3)
    values = r(np.linspace(start, 1.0, 4097))
    assert np.all(np.diff(values) >= -1e-12) and values[-1] - values[0] > 0.9


def test_known_values() -> None:
    d750 = curve_nodes("darktable basecurves")["Nikon D750"]
    assert monotone_curve(*d750)(np.array(0.143357)) == pytest.approx(0.370145, abs=1e-12)
    assert maker_responses("darktable basecurves")["Nikon D750"](np.array(0.143357)) == pytest.approx(
        float(srgb(np.array(0.370145))), abs=1e-12)
    assert curve_nodes("darktable basecurves")["Canon EOS 6D"][1][0] == 0.002917
    adobe = monotone_curve(*curve_nodes("RawTherapee DCP tone curves")["Adobe standard (ACR3 default)"])
    assert adobe(np.array(0.5)) == pytest.approx(0.80486, abs=2e-4)  # the DNG SDK's ACR3 table at 512/1024


def test_json_names_source_and_licence_of_each_family() -> None:
    data = json.loads(DATA.read_text(encoding="utf-8"))
    for fam in MAKER_FAMILIES:
        assert "GPL-3.0-or-later" in data[fam]["license"] and data[fam]["source"]
    assert {c["contributor"] for c in data["darktable basecurves"]["curves"].values()} >= {
        "Edouard Gomez", "Günther R.", "Pascal Obry"}
    assert (DATA.parent / "LICENSE.md").is_file()


def write_dcp(path: Path, pairs: list[tuple[float, float]]) -> None:
    """A minimal DCP: 'IIRC' header, one IFD with UniqueCameraModel (ASCII) and ProfileToneCurve (FLOAT)."""
    model = b"Test Cam\0"
    curve = struct.pack(f"<{2 * len(pairs)}f", *(v for p in pairs for v in p))
    ifd = 8
    data_at = ifd + 2 + 2 * 12 + 4
    entries = struct.pack("<HHII", 50708, 2, len(model), data_at)
    entries += struct.pack("<HHII", 50940, 11, 2 * len(pairs), data_at + len(model))
    path.write_bytes(b"IIRC" + struct.pack("<I", ifd) + struct.pack("<H", 2) + entries + struct.pack("<I", 0)
                     + model + curve)


def test_extraction_reads_the_curve_of_a_dcp(tmp_path: Path) -> None:
    pairs = [(0.0, 0.0), (0.25, 0.5), (0.5, 0.75), (1.0, 1.0)]
    write_dcp(tmp_path / "Test Cam.dcp", pairs)
    write_dcp(tmp_path / "Flat Cam.dcp", [(0.0, 0.0), (1.0, 1.0)])  # the identity: skipped
    np.testing.assert_array_equal(tone_curve(tmp_path / "Test Cam.dcp"), np.array(pairs))
    curves = family(tmp_path)["curves"]
    assert list(curves) == ["Test Cam"]
    assert curves["Test Cam"]["x"] == [0.0, 0.25, 0.5, 1.0] and curves["Test Cam"]["y"] == [0.0, 0.5, 0.75, 1.0]
    assert curves["Test Cam"]["files"] == 1
    (tmp_path / "bad.dcp").write_bytes(b"II*\0" + bytes(8))
    with pytest.raises(ValueError, match="IIRC"):
        family(tmp_path)
