"""``hdrsyn compare`` collects test summaries into one table and a chart."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from hdrsyn.compare import main


def summary(folder: Path, method: str, metrics: dict[str, float]) -> None:
    folder.mkdir(parents=True)
    record = {"method": method, "run": folder.parent.name, "num_images": 3, "metrics": metrics}
    (folder / "summary.json").write_text(json.dumps(record))


def test_table_and_chart(tmp_path: Path) -> None:
    summary(tmp_path / "runs" / "joint" / "test", "JointStage",
            {"pu21_psnr": 30.5, "pu21_psnr_std": 1.25, "mu_psnr": 25.0, "psnr/up": 20.0, "ssim/up": 0.9123})
    summary(tmp_path / "runs" / "expandnet" / "test", "ExpandNetBaseline", {"pu21_psnr": 28.0, "mu_psnr": 22.0})
    out = tmp_path / "report"
    assert main([str(tmp_path / "runs"), "-o", str(out)]) == 0
    table = (out / "comparison.md").read_text()
    assert "| expandnet | ExpandNetBaseline | 3 | 28.00 ± 0.00 |" in table
    assert "30.50 ± 1.25" in table and "0.912 ± 0.000" in table and "—" in table
    rows = {row["run"]: row for row in csv.DictReader((out / "comparison.csv").open())}
    assert float(rows["joint"]["pu21_psnr_std"]) == 1.25 and rows["expandnet"]["psnr/up"] == ""
    assert Image.open(out / "comparison.png").size[0] > 600


def test_missing_summaries_are_reported(tmp_path: Path, capsys) -> None:
    assert main([str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "run `lightning test` first" in capsys.readouterr().err


@pytest.mark.parametrize("content", [b"", b"[1, 2]", b'{"method": "x"}', b"\xff\xfe"])
def test_a_broken_summary_is_named(tmp_path: Path, capsys, content: bytes) -> None:
    summary = tmp_path / "runs" / "a" / "test" / "summary.json"
    summary.parent.mkdir(parents=True)
    summary.write_bytes(content)
    assert main([str(tmp_path / "runs"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{summary} is not a test summary" in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
