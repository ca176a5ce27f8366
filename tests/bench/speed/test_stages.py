"""``python -m bench.speed.stages --throughput``: the generator's GFLOP/s against a plain conv, at CPU width or
scaled."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench.speed.stages import generator_throughput, scaled_cpu_widths
from lightning_modules.diffhdrsyn.model import WIDTH_PRESETS, NetWidth

ROOT = Path(__file__).resolve().parents[3]


def test_scaled_cpu_widths() -> None:
    assert scaled_cpu_widths(1.0) == WIDTH_PRESETS["cpu"]
    assert scaled_cpu_widths(1.5).local_net == NetWidth(12, 96)
    assert scaled_cpu_widths(0.5).refine_net == NetWidth(4, 32)
    with pytest.raises(ValueError, match="width-scale"):
        scaled_cpu_widths(0)


def test_throughput_counts_the_scaled_generator() -> None:
    """1.5x the channels is about 1.5**2 the FLOPs; the ratios are finite and positive."""
    cpu = generator_throughput(32, trials=1)
    wide = generator_throughput(32, trials=1, widths=scaled_cpu_widths(1.5))
    flops = [r["generator_seconds"] * r["generator_gflops"] for r in (cpu, wide)]
    flop_ratio = flops[1] / flops[0]
    assert 1.9 < flop_ratio < 2.4
    for result in (cpu, wide):
        assert result["ratio"] > 0 and 0.9 < result["conv_share"] < 1


def test_bad_width_scale_is_a_short_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench.speed.stages", "--throughput", "--width-scale", "-1"],
                          capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "--width-scale must be > 0" in done.stderr and "Traceback" not in done.stderr
