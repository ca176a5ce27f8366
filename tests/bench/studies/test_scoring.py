"""``bench.studies.scoring``: the models the studies score, ensembles of stack models included."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from bench.studies.scoring import average_of, load_methods
from hdrsyn.model_registry import Reconstructor

EVS = (-1.0, 0.0, 1.0)


class Constant(nn.Module):
    """A stack network whose every exposure is ``value``."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.value = value

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        return torch.full((ldr.shape[0], len(EVS), 3, *ldr.shape[-2:]), self.value)


def test_average_of_stack_models_is_the_mean_stack() -> None:
    models = [Reconstructor(Constant(v), "stack", size_multiple=m, evs=EVS) for v, m in ((0.2, 8), (0.6, 16))]
    ensemble = average_of(models)
    assert ensemble.size_multiple == 16 and ensemble.evs == EVS
    stack = ensemble.network(torch.rand(2, 3, 16, 16))
    assert stack.shape == (2, 3, 3, 16, 16) and torch.allclose(stack, torch.full_like(stack, 0.4))


def test_average_of_refuses_mismatched_models() -> None:
    stack = Reconstructor(Constant(0.5), "stack", evs=EVS)
    with pytest.raises(ValueError, match="same EVs"):
        average_of([stack, Reconstructor(Constant(0.5), "stack", evs=(-2.0, 0.0, 2.0))])
    with pytest.raises(ValueError, match="stack models"):
        average_of([stack, Reconstructor(nn.Identity(), "radiance")])


def test_load_methods_builds_an_average_from_a_plus_spec() -> None:
    """``label=a+b``: the packaged model averaged with itself gives its own stack."""
    methods = load_methods(["one=packaged", "two=packaged+packaged"])
    assert list(methods) == ["x^2.2", "analytic stack", "one", "two"]
    ldr = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(methods["two"].network(ldr), methods["one"].network(ldr), atol=1e-6)


def test_a_packaged_model_is_named_by_its_name() -> None:
    from bench.studies.scoring import model_file
    from hdrsyn.pretrained import pretrained_path, read_manifest

    default = read_manifest()["default"]
    assert model_file(default) == model_file("packaged") == pretrained_path()
    assert model_file("runs/x.ckpt") == Path("runs/x.ckpt")


def test_a_bad_model_is_a_short_error() -> None:
    """A missing checkpoint ends the bench with a usage error naming it, no traceback."""
    root = Path(__file__).resolve().parents[3]
    done = subprocess.run([sys.executable, "-m", "bench.studies.unseen_responses", "a=does_not_exist.ckpt"],
                          capture_output=True, text=True, cwd=root)
    assert done.returncode == 2 and "does_not_exist.ckpt" in done.stderr and "Traceback" not in done.stderr
