"""Export normalised prediction/reference pairs for HDR-VDP-2 (MATLAB only) with a self-describing manifest."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from hdrsyn.io import PathLike, atomic_write, write_hdr
from hdrsyn.metrics.display import PAPER_DIAGONAL_IN, PAPER_DISTANCE_M, PAPER_RESOLUTION, pixels_per_degree
from hdrsyn.metrics.normalization import PERCENTILE_1_1000, HDRNormalization, check_hdr_pair

MANIFEST_NAME = "manifest.json"
_SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")


class HDRVDPExporter:
    """Write ``<name>_pred.exr`` / ``<name>_ref.exr`` pairs in absolute cd/m² and a ``manifest.json``.

    Each pair goes through ``normalization`` (the same protocol as the Python HDR metrics) and is
    stored as float32 OpenEXR (linear Rec. 709 RGB). The manifest records the protocol, the files, the
    paper's HDR-VDP-2 call ``hdrvdp(pred, ref, 'rgb-bt.709', ppd)`` with ``ppd`` for the paper's
    display (24 inches at 0.5 m; resolution assumed 1920x1200) and a MATLAB loop that scores all pairs.

    Example:
        >>> exporter = HDRVDPExporter("out/hdrvdp")  # doctest: +SKIP
        >>> exporter.add(["t01"], pred, target)  # doctest: +SKIP
        >>> exporter.write_manifest()  # doctest: +SKIP
    """

    def __init__(
        self,
        root: PathLike,
        normalization: HDRNormalization = PERCENTILE_1_1000,
        diagonal_in: float = PAPER_DIAGONAL_IN,
        resolution: tuple[int, int] = PAPER_RESOLUTION,
        distance_m: float = PAPER_DISTANCE_M,
    ) -> None:
        self.root = Path(root)
        self.normalization = normalization
        self.display = {"diagonal_in": diagonal_in, "resolution": list(resolution), "distance_m": distance_m}
        self.ppd = pixels_per_degree(diagonal_in, resolution, distance_m)
        self.pairs: list[dict[str, Any]] = []

    def add(self, names: Sequence[str], preds: Tensor, target: Tensor) -> None:
        """Normalise and write a batch ``(B, 3, H, W)`` of linear RGB pairs named ``names``."""
        check_hdr_pair(preds, target)
        if len(names) != preds.shape[0]:
            raise ValueError(f"got {len(names)} names for a batch of {preds.shape[0]}")
        known = {pair["name"] for pair in self.pairs}
        for name in names:
            if not _SAFE_NAME.fullmatch(name) or name in known:
                raise ValueError(f"pair name {name!r} is not a unique plain file-name stem")
            known.add(name)
        preds, target = self.normalization(preds.detach(), target.detach())
        for name, pred_img, ref_img in zip(names, preds, target, strict=True):
            pair = {"name": name, "pred": f"{name}_pred.exr", "ref": f"{name}_ref.exr"}
            for key, image in (("pred", pred_img), ("ref", ref_img)):
                write_hdr(self.root / pair[key], image.permute(1, 2, 0).float().cpu().numpy(), precision="float")
            self.pairs.append({**pair, "height": ref_img.shape[-2], "width": ref_img.shape[-1]})

    def manifest(self) -> dict[str, Any]:
        """The manifest contents (see :meth:`write_manifest`)."""
        d = self.display
        width, height = d["resolution"]
        ppd_call = f"ppd = hdrvdp_pix_per_deg({d['diagonal_in']:g}, [{width} {height}], {d['distance_m']:g});"
        call = "res = hdrvdp(pred, ref, 'rgb-bt.709', ppd);"
        return {
            "units": "absolute linear RGB, Rec. 709 primaries, cd/m^2",
            "files": "OpenEXR, float32 channels R, G, B; paths relative to this manifest",
            "normalization": self.normalization.as_dict(),
            "hdrvdp": {
                "metric": "HDR-VDP-2 (MATLAB, http://hdrvdp.sourceforge.net), quality score res.Q",
                "color_encoding": "rgb-bt.709",
                "display": d,
                "pixels_per_degree": self.ppd,
                "ppd_call": ppd_call,
                "call": call,
                "matlab": [
                    "% run in the folder that holds manifest.json, with HDR-VDP-2 on the MATLAB path",
                    "m = jsondecode(fileread('manifest.json'));",
                    ppd_call,
                    "Q = zeros(numel(m.pairs), 1);",
                    "for i = 1:numel(m.pairs)",
                    "    pred = exrread(m.pairs(i).pred);  % exrread: Image Processing Toolbox R2022b+",
                    "    ref = exrread(m.pairs(i).ref);",
                    f"    {call}",
                    "    Q(i) = res.Q;",
                    "end",
                    "fprintf('HDR-VDP-2 Q = %.3f +- %.3f (n = %d)\\n', mean(Q), std(Q, 1), numel(Q));",
                ],
            },
            "pairs": self.pairs,
        }

    def write_manifest(self) -> Path:
        """Atomically write ``root/manifest.json`` for the pairs added so far; returns its path."""
        path = self.root / MANIFEST_NAME
        text = json.dumps(self.manifest(), indent=2)
        atomic_write(path, lambda tmp: tmp.write_text(text + "\n", encoding="utf-8"))
        return path
