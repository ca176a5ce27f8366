"""Extract the distinct non-identity tone curves of DNG camera profiles (``.dcp``) into the
"RawTherapee DCP tone curves" family of ``bench/data/maker_curves.json``.

A DCP is a little-endian TIFF file with the magic ``IIRC`` instead of ``II*\\0``; its ``ProfileToneCurve``
(tag 50940, FLOAT) is a list of (x, y) pairs in [0, 1]. Profiles whose curves agree to within 1e-4 on a common
grid (the same curve stored with 1025 or 8192 samples) are counted once; a curve over 257 samples is
subsampled to 257, end points kept. The identity (and a missing curve) is skipped. The curve most profiles
carry is Adobe's standard one (the DNG SDK's ACR3 default, 0.00078 at x = 1/1024) and is named so; the others
are named after their first profile. Own code, not RawTherapee's.

    python -m bench.data.extract_dcp_curves /usr/share/rawtherapee/dcpprofiles            # print the family
    python -m bench.data.extract_dcp_curves /usr/share/rawtherapee/dcpprofiles --update   # rewrite the JSON
"""

from __future__ import annotations

import argparse
import json
import re
import struct
from pathlib import Path

import numpy as np

from hdrsyn.io import atomic_write

JSON_PATH = Path(__file__).with_name("maker_curves.json")
FAMILY = "RawTherapee DCP tone curves"
TONE_CURVE, COPYRIGHT = 50940, 50942
MAX_POINTS = 257
_FORMATS = {1: "B", 2: "s", 3: "H", 4: "I", 11: "f", 12: "d"}  # TIFF types this needs


def read_tags(path: Path) -> dict[int, object]:
    """The tags of a DCP's first IFD: tag -> tuple of numbers, or str for ASCII."""
    data = Path(path).read_bytes()
    if data[:4] != b"IIRC":
        raise ValueError(f"{path}: not a little-endian DCP (magic {data[:4]!r}, expected b'IIRC')")
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    tags: dict[int, object] = {}
    for i in range(count):
        tag, kind, n, value = struct.unpack_from("<HHI4s", data, ifd + 2 + 12 * i)
        if kind not in _FORMATS:
            continue
        size = struct.calcsize("<" + _FORMATS[kind]) * n
        start = struct.unpack("<I", value)[0] if size > 4 else None
        raw = value[:size] if start is None else data[start:start + size]
        if kind == 2:
            tags[tag] = raw.split(b"\0")[0].decode("latin-1")
        else:
            tags[tag] = struct.unpack(f"<{n}{_FORMATS[kind]}", raw)
    return tags


def tone_curve(path: Path) -> np.ndarray | None:
    """The ``ProfileToneCurve`` of a DCP as an (N, 2) float array of (x, y), or None if it has none."""
    values = read_tags(path).get(TONE_CURVE)
    return None if values is None else np.asarray(values, dtype=np.float64).reshape(-1, 2)


def write_json(data: dict, path: Path = JSON_PATH) -> None:
    """``data`` as indented JSON with each list of numbers or strings on one line."""
    text = json.dumps(data, indent=1, ensure_ascii=False)
    text = re.sub(r"\[\n\s+([^\[\]{}]+?)\n\s+\]", lambda m: "[" + re.sub(r",\n\s+", ", ", m[1]) + "]", text)
    atomic_write(Path(path), lambda target: target.write_text(text + "\n", encoding="utf-8"))


def _subsample(curve: np.ndarray) -> np.ndarray:
    """At most :data:`MAX_POINTS` rows of ``curve``, evenly spaced by index, first and last kept."""
    if len(curve) <= MAX_POINTS:
        return curve
    return curve[np.unique(np.round(np.linspace(0, len(curve) - 1, MAX_POINTS)).astype(int))]


def _short(value: float) -> float:
    """The shortest decimal that reads back as the same float32 (the DCP's own precision).

    >>> _short(np.float32(0.00078)), _short(1 / 3)
    (0.00078, 0.33333334)
    """
    return float(str(np.float32(value)))


def family(folder: Path) -> dict[str, object]:
    """The family's JSON object: the distinct non-identity curves of ``folder/*.dcp``, most carried first."""
    grid = np.linspace(0.0, 1.0, 1001)
    groups: list[tuple[np.ndarray, list[str]]] = []  # (densest curve, files)
    copyrights: dict[str, str] = {}
    for path in sorted(Path(folder).glob("*.dcp")):
        curve = tone_curve(path)
        if curve is None:
            continue
        copyrights[path.name] = str(read_tags(path).get(COPYRIGHT, "(none)"))
        on_grid = np.interp(grid, curve[:, 0], curve[:, 1])
        if np.abs(on_grid - grid).max() < 1e-4:
            continue  # identity
        for i, (seen, files) in enumerate(groups):
            if np.abs(np.interp(grid, seen[:, 0], seen[:, 1]) - on_grid).max() < 1e-4:
                files.append(path.name)
                if len(curve) > len(seen):
                    groups[i] = (curve, files)
                break
        else:
            groups.append((curve, [path.name]))
    groups.sort(key=lambda group: -len(group[1]))
    curves = {}
    for rank, (curve, files) in enumerate(groups):
        name = "Adobe standard (ACR3 default)" if rank == 0 and len(groups) > 1 else Path(files[0]).stem
        points = _subsample(curve)
        curves[name] = {"files": len(files), "examples": files[:4], "samples": len(curve),
                        "profile_copyrights": sorted({copyrights[f] for f in files}),
                        "x": [_short(v) for v in points[:, 0]], "y": [_short(v) for v in points[:, 1]]}
    return {"source": f"ProfileToneCurve (tag 50940) of the DCP profiles of RawTherapee 5.9 (rtdata/dcpprofiles; "
                      f"read from {folder}, Debian package rawtherapee-data 5.9-1)",
            "license": "GPL-3.0-or-later (RawTherapee; Debian rawtherapee-data 5.9-1 copyright, 'Files: *')",
            "extracted_with": "python -m bench.data.extract_dcp_curves /usr/share/rawtherapee/dcpprofiles --update",
            "curves": curves}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="a folder of .dcp files")
    parser.add_argument("--update", action="store_true", help=f"replace the family in {JSON_PATH.name}")
    args = parser.parse_args()
    result = family(args.folder)
    if args.update:
        data = json.loads(JSON_PATH.read_text(encoding="utf-8"))
        data[FAMILY] = result
        write_json(data)
    else:
        print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
