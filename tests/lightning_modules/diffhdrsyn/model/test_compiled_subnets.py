"""``compile_subnets``: compiled U-Nets give the eager outputs and gradients, under the same parameter names."""

from __future__ import annotations

import copy

import pytest
import torch

from lightning_modules.diffhdrsyn.model import StackGenerator
from lightning_modules.diffhdrsyn.model.compiled_subnets import compile_subnets


def outputs_and_gradients(generator: StackGenerator, ldr: torch.Tensor) -> tuple[dict, torch.Tensor]:
    generator.zero_grad()
    out = generator(ldr)
    (out["stack"].square().sum() + out["edges"].sum()).backward()
    return out, torch.cat([p.grad.flatten() for p in generator.parameters()])


def test_compiled_generator_matches_eager() -> None:
    """``aot_eager`` (dynamo capture + AOT autograd, compiled in seconds); inductor runs in bench/runners/device_check.sh."""
    torch.manual_seed(0)
    eager = StackGenerator("tiny", num_steps=1)
    compiled = compile_subnets(copy.deepcopy(eager), backend="aot_eager")
    assert [k for k, _ in compiled.named_parameters()] == [k for k, _ in eager.named_parameters()]
    ldr = torch.rand(1, 3, 32, 32)
    expected, expected_grad = outputs_and_gradients(eager, ldr)
    result, grad = outputs_and_gradients(compiled, ldr)
    for key in expected:
        torch.testing.assert_close(result[key], expected[key], rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-5 * expected_grad.abs().max().item())
    assert all(net._compiled_call_impl is not None for net in (compiled.up.global_net, compiled.down.refine_net))


def test_rejects_other_modules() -> None:
    with pytest.raises(TypeError, match="generator must be a StackGenerator"):
        compile_subnets(torch.nn.Linear(2, 2))  # type: ignore[arg-type]
