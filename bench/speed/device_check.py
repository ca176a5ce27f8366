"""Python core of ``bench/runners/device_check.sh``: run the device checks, print one table, write JSON.

The checks are those of :mod:`bench.speed.device_cases`. With an NVIDIA GPU: the HDR op on CUDA against
the CPU, ``warmup`` + 20 joint-stage steps at paper width on 256 px in fp32 and bf16-mixed, each without
and with ``torch.compile`` (it/s, peak GPU memory, the projected time of the paper's 70 k iterations), and
``hdrsyn reconstruct`` of a 12 MP photo. Without one, the same checks at tiny width on the CPU
(:data:`bench.speed.device_cases.CPU_PLAN`), in under a minute.

Every check runs in its own ``try``; a failure is a row of the table. The JSON is rewritten (atomically)
after each check, so a run stopped by the time limit keeps what it measured.

    python -m bench.speed.device_check [--out runs/device_check] [--cpu] [--deadline 570]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from bench.speed.device_cases import CPU_PLAN, GPU_PLAN, Plan, op_check, predict_check, random_vgg19_weights
from bench.speed.device_cases import sample_batches, train_check
from bench.tables import cell, markdown_table

#: ``(name, precision, compiled)`` of the training checks, in the order they run (compiled runs last: slowest).
TRAINING = (("fp32", "32-true", False), ("bf16", "bf16-mixed", False), ("bf16+compile", "bf16-mixed", True),
            ("fp32+compile", "32-true", True))
MIN_START_S = 20.0
COLUMNS = ("check", "status", "it/s", "s/it", "peak GB", "70k iters", "seconds", "notes")


def write_json(path: Path, report: dict) -> None:
    """Write ``report`` to ``path`` atomically (a temporary file in the same folder, then renamed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as handle:
        json.dump(report, handle, indent=2)
    os.replace(handle.name, path)


def table(rows: Sequence[dict]) -> str:
    """The rows as one Markdown table."""
    cells = []
    for row in rows:
        hours = row.get("projected_70k_h")
        cells.append([row["check"], row["status"], cell(row.get("it_per_s")), cell(row.get("s_per_it"), 3),
                      cell(row.get("peak_gb")), "—" if hours is None else f"{hours:.1f} h",
                      cell(row.get("seconds"), 1), row.get("notes", "")])
    return "\n".join(markdown_table(COLUMNS, cells))


def describe(plan: Plan) -> str:
    if plan.device == "cuda":
        return (f"GPU: {torch.cuda.get_device_name()} (torch {torch.__version__}, CUDA {torch.version.cuda}; "
                f"fp32 = PyTorch defaults, cuDNN TF32 {torch.backends.cudnn.allow_tf32})")
    return (f"CPU MODE (no NVIDIA GPU used): the checks at {plan.width} width, {plan.image_size} px, "
            f"compile backend {plan.compile_backend!r}; GPU figures need a machine with a GPU")


def run(plan: Plan, out: Path, deadline_s: float) -> dict:
    """Run every check within ``deadline_s`` seconds; returns the report also written to ``out/device_check.json``."""
    start = time.perf_counter()
    report = {"mode": plan.device, "description": describe(plan), "plan": asdict(plan), "finished": False,
              "checks": []}
    json_path = out / "device_check.json"
    state: dict = {}

    def attempt(name: str, check: Callable[[], dict]) -> None:
        row = {"check": name, "status": "killed", "notes": "still running when the run was stopped"}
        began = time.perf_counter()
        report["checks"].append(row)
        if deadline_s - (began - start) < MIN_START_S:
            row.update(status="skipped", notes=f"time limit ({deadline_s:.0f} s) reached")
        else:
            write_json(json_path, report)  # a check that the time limit kills stays in the JSON as "killed"
            try:
                row.update(check())
                row["status"] = "ok"
            except Exception as error:  # noqa: BLE001 - every failure becomes a row of the table
                row.update(status="FAIL", notes=f"{type(error).__name__}: {error}"[:300],
                           traceback=traceback.format_exc())
        row["seconds"] = time.perf_counter() - began
        write_json(json_path, report)
        print(f"[device_check] {name}: {row['status']} ({row['seconds']:.1f} s) {row.get('notes', '')}", flush=True)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        state["batches"] = sample_batches(plan.image_size)
        vgg = random_vgg19_weights(folder / "vgg19_random.pth") if plan.cobi else None
        attempt("op: CUDA vs CPU" if plan.device == "cuda" else "op: PyTorch path vs C kernels",
                lambda: op_check(plan, state["batches"][0]))
        for name, precision, compiled in TRAINING:
            reference = state.get("fp32_loss")
            attempt(f"joint {name}", lambda p=precision, c=compiled, r=reference: train_check(
                plan, state["batches"], p, c, vgg, r))
            if name == "fp32" and report["checks"][-1]["status"] == "ok":
                state["fp32_loss"] = report["checks"][-1]["first_loss"]
            if name == "bf16":
                attempt("reconstruct", lambda: predict_check(plan, folder / "predict"))
    report["finished"] = True
    report["seconds"] = time.perf_counter() - start
    write_json(json_path, report)
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the device check; exit code 0 when every check passed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("runs/device_check"), help="folder of device_check.json")
    parser.add_argument("--cpu", action="store_true", help="the CPU mode even when a GPU is present")
    parser.add_argument("--deadline", type=float, default=570.0, help="seconds after which no check starts")
    parser.add_argument("--report-only", action="store_true", help="print the table of an existing JSON and exit")
    args = parser.parse_args(argv)
    if args.report_only:
        path = args.out / "device_check.json"
        if not path.is_file():
            print(f"no check finished ({path} was not written)")
            return 1
        report = json.loads(path.read_text())
        print(f"{report['description']}\n\n{table(report['checks'])}\n\nfinished: {report['finished']}")
        return 1
    plan = CPU_PLAN if args.cpu or not torch.cuda.is_available() else GPU_PLAN
    if plan.device == "cuda":
        torch.backends.cudnn.benchmark = True
    if plan.threads is not None:
        torch.set_num_threads(plan.threads)
    print(f"[device_check] {describe(plan)}", flush=True)
    report = run(plan, args.out, args.deadline)
    print(f"\n{report['description']}\n\n{table(report['checks'])}\n\ntotal {report['seconds']:.0f} s; "
          f"JSON: {args.out / 'device_check.json'}")
    return 0 if all(row["status"] == "ok" for row in report["checks"]) else 1


if __name__ == "__main__":
    raise SystemExit(main())
