"""``hdrsyn compare`` collects test summaries into one table and a chart, and logs them as a W&B run."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from PIL import Image

from hdrsyn.cli.compare import main
from tests.helpers import read_offline_run


def summary(folder: Path, method: str, metrics: dict[str, float], per_image: list[dict] | None = None,
            test_split: str = "val") -> None:
    folder.mkdir(parents=True)
    record = {"method": method, "run": folder.parent.name, "num_images": 3, "metrics": metrics,
              "test_split": test_split,
              "wandb": {"project": "hdrsyn", "group": "sample-cpu", "job_type": folder.parent.name}}
    (folder / "summary.json").write_text(json.dumps(record))
    if per_image:
        with (folder / "metrics_per_image.csv").open("w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(per_image[0]))
            writer.writeheader()
            writer.writerows(per_image)


@pytest.fixture()
def runs(tmp_path: Path) -> Path:
    summary(tmp_path / "runs" / "joint" / "test", "JointStage",
            {"pu21_psnr": 30.5, "pu21_psnr_std": 1.25, "mu_psnr": 25.0, "psnr/up": 20.0, "ssim/up": 0.9123,
             "cvvdp": 7.5, "crf/cvvdp": 8.25},
            [{"method": "JointStage", "name": f"s{i}", "pu21_psnr": 30.0 + i, "psnr": 20.0} for i in range(3)])
    summary(tmp_path / "runs" / "expandnet" / "test", "ExpandNetBaseline", {"pu21_psnr": 28.0, "mu_psnr": 22.0},
            [{"method": "ExpandNetBaseline", "name": f"s{i}", "pu21_psnr": 28.0} for i in range(3)])
    return tmp_path / "runs"


def test_table_and_chart(runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main([str(runs), "-o", str(out), "--no-wandb"]) == 0
    table = (out / "comparison.md").read_text()
    assert table.splitlines()[0].startswith("| run | method | images | cvvdp | pu21_psnr |")
    assert "| expandnet | ExpandNetBaseline | 3 | — | 28.00 ± 0.00 |" in table
    assert "30.50 ± 1.25" in table and "0.912 ± 0.000" in table and "8.25 ± 0.00" in table
    rows = {row["run"]: row for row in csv.DictReader((out / "comparison.csv").open())}
    assert float(rows["joint"]["pu21_psnr_std"]) == 1.25 and rows["expandnet"]["psnr/up"] == ""
    assert float(rows["joint"]["crf/cvvdp"]) == 8.25
    assert Image.open(out / "comparison.png").size[0] > 600
    page = (out / "comparison.html").read_text()
    assert "expandnet" in page and r"30.50 \u00b1 1.25" in page  # the viewer page (its images: tests/hdrsyn/test_viewer.py)
    assert not (out / "wandb").exists()


def test_the_test_scenes_pass_gets_its_own_label(runs: Path, tmp_path: Path) -> None:
    """`hdrsyn pipeline` writes runs/joint/test and runs/joint/test_scenes: two rows, told apart."""
    summary(runs / "joint" / "test_scenes", "JointStage", {"pu21_psnr": 21.0}, test_split="test")
    out = tmp_path / "report"
    assert main([str(runs), "-o", str(out), "--no-wandb"]) == 0
    rows = {row["run"]: row for row in csv.DictReader((out / "comparison.csv").open())}
    assert float(rows["joint"]["pu21_psnr"]) == 30.5 and float(rows["joint (test scenes)"]["pu21_psnr"]) == 21.0
    assert main([str(runs / "joint" / "test_scenes"), "-o", str(tmp_path / "scenes"), "--no-wandb"]) == 0
    assert "| joint | JointStage |" in (tmp_path / "scenes" / "comparison.md").read_text()  # one split: no mark


def test_logs_a_wandb_run_of_the_same_group(runs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR"):
        monkeypatch.setenv(name, str(tmp_path / "wandb-home"))
    monkeypatch.setenv("WANDB_MODE", "offline")
    monkeypatch.setenv("WANDB_SILENT", "true")
    out = tmp_path / "report"
    assert main([str(runs), "-o", str(out)]) == 0
    (folder,) = (out / "wandb").glob("offline-run-*")
    run = read_offline_run(folder)
    assert (run.name, run.group, run.job_type) == ("compare", "sample-cpu", "compare")
    assert {"compare/table/_type", "compare/chart/_type", "compare/per_image/_type"} <= run.logged
    (joined,) = folder.glob("files/media/table/compare/per_image*.table.json")
    table = json.loads(joined.read_text())
    assert table["columns"] == ["run", "method", "name", "pu21_psnr", "psnr"]
    assert len(table["data"]) == 6 and ["expandnet", "ExpandNetBaseline", "s0", 28.0, None] in table["data"]


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


@pytest.mark.parametrize("value", ["Infinity", "NaN", '"12"'])
def test_a_summary_with_a_score_that_is_not_a_finite_number_is_named(runs: Path, tmp_path: Path, capsys,
                                                                      value: str) -> None:
    """Never "inf ± nan" in the table: the summary file and the metric are named instead."""
    path = runs / "joint" / "test" / "summary.json"
    path.write_text(path.read_text().replace('"mu_psnr": 25.0', f'"mu_psnr": {value}'))
    assert main([str(runs), "-o", str(tmp_path / "out"), "--no-wandb"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: metric 'mu_psnr' is" in err and "not a finite number" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()
