"""The compiled CPU kernels give the PyTorch path's numbers, and their absence is handled."""

from __future__ import annotations

import ctypes
import os
import shutil
import warnings
from collections.abc import Callable
from typing import TypeVar

import pytest
import torch
from torch.autograd import gradcheck

import ops.native as native
from ops.crf import level_histograms
from ops.merge import merge_log_radiance
from tests.ops.test_merge import gamma_table, random_stack

T = TypeVar("T")
TIMES = torch.tensor([[0.5, 1.0, 2.0], [0.25, 1.0, 4.0]], dtype=torch.float64).log()


@pytest.fixture
def split_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads whose shares start mid-plane and mid-pixel (the tests' tensors are small)."""
    monkeypatch.setattr(native, "MIN_ELEMENTS_PER_THREAD", 7)
    torch.set_num_threads(2)  # the autouse fixture restores it


@pytest.fixture
def fresh_library() -> None:
    """Forget the loaded library before and after a test that changes how it is built."""
    native._load.cache_clear()
    yield
    native._load.cache_clear()


def layouts(stack: torch.Tensor) -> dict[str, torch.Tensor]:
    """The stack channel-first and as viewed from (H, W, 3) images (channel innermost)."""
    return {"channel-first": stack, "channel-last": stack.permute(0, 1, 3, 4, 2).contiguous().permute(0, 1, 4, 2, 3)}


def on_pytorch_path(monkeypatch: pytest.MonkeyPatch, fn: Callable[[], T]) -> T:
    """``fn()`` with the kernels switched off (``HDRSYN_NATIVE=0``)."""
    with monkeypatch.context() as patch:
        patch.setenv("HDRSYN_NATIVE", "0")
        return fn()


def merged_and_grad(stack: torch.Tensor, g: torch.Tensor, detach: bool) -> tuple[torch.Tensor, torch.Tensor]:
    x = stack.clone().requires_grad_(True)
    out = merge_log_radiance(x, g, TIMES, detach_weights=detach)
    (out * torch.linspace(-1, 1, out.numel(), dtype=out.dtype).view_as(out)).sum().backward()
    return out.detach(), x.grad


def test_kernels_build_and_load() -> None:
    if shutil.which(os.environ.get("CC") or "cc") is None:
        pytest.skip("no C compiler: the PyTorch path runs (tested below)")
    assert native.library() is not None
    flat = random_stack(torch.float32).flatten(3)
    assert native.usable(flat) and native.usable(flat.to(torch.uint8)) and native.usable(flat.double())
    assert not native.usable(flat.half()), "float16 stays on the PyTorch path"
    assert not native.usable(flat[..., ::2]), "planes with gaps stay on the PyTorch path"


@pytest.mark.parametrize("dtype, tolerance", [(torch.float64, 1e-12), (torch.float32, 2e-6)])
@pytest.mark.parametrize("detach", [True, False])
def test_merge_and_gradient_match_the_pytorch_path(monkeypatch, split_work, dtype, tolerance, detach) -> None:
    """Fallback pixels, values on the knots, two items with their own tables, both plane layouts."""
    g = torch.cat([gamma_table(), gamma_table() + 0.1])
    for name, stack in layouts(random_stack(dtype)).items():
        assert native.usable(stack.flatten(3)), name
        out, grad = merged_and_grad(stack, g, detach)
        reference_out, reference_grad = on_pytorch_path(monkeypatch, lambda: merged_and_grad(stack, g, detach))
        torch.testing.assert_close(out, reference_out, rtol=0, atol=tolerance, msg=name)
        torch.testing.assert_close(grad, reference_grad, rtol=0, atol=tolerance * 100, msg=name)


def test_uint8_merge_matches_the_pytorch_path(monkeypatch, split_work) -> None:
    levels = torch.round(random_stack(torch.float32) * 255).to(torch.uint8)
    g = torch.cat([gamma_table(), gamma_table() + 0.3])
    for name, stack in layouts(levels).items():
        out = merge_log_radiance(stack, g, TIMES)
        reference = on_pytorch_path(monkeypatch, lambda: merge_log_radiance(stack, g, TIMES))
        assert out.dtype == reference.dtype == torch.float32
        torch.testing.assert_close(out, reference, rtol=0, atol=1e-5, msg=name)


def test_gradcheck_float64_through_the_kernels() -> None:
    """The true derivative (weights not detached; detached ones are checked against the PyTorch path)."""
    x = ((torch.randint(1, 254, (2, 3, 3, 3, 3)) + torch.rand(2, 3, 3, 3, 3) * 0.8 + 0.1) / 255).double()
    x[0, :, 0, 0, 0] = 1.0  # a fallback pixel: its gradient is the shortest exposure's slope
    g = torch.cat([gamma_table(), gamma_table() + 0.2])
    assert native.usable(x.flatten(3))
    assert gradcheck(
        lambda s: merge_log_radiance(s, g, TIMES, detach_weights=False), (x.requires_grad_(True),), atol=1e-6
    )


def test_histograms_match_the_pytorch_path(monkeypatch, split_work) -> None:
    """Every dtype and layout; shares that split planes and pixels; runs of equal values (one counter)."""
    stack = random_stack(torch.float32, seed=3)
    stack[:, :, :, 3:] = 0.25  # a flat region, as in smooth photographs
    cases = {f"{name} {t}": s.to(t) for name, s in layouts(stack).items() for t in (torch.float32, torch.float64)}
    cases.update({f"{name} uint8": s for name, s in layouts(torch.round(stack * 255).to(torch.uint8)).items()})
    for name, case in cases.items():
        counts = level_histograms(case)
        assert torch.equal(counts, on_pytorch_path(monkeypatch, lambda: level_histograms(case))), name
        assert (counts.sum(-1) == stack.shape[-1] * stack.shape[-2]).all(), name


def test_build_is_cached_and_failures_name_the_compiler(tmp_path) -> None:
    first = native.build(directory=tmp_path)
    stamp = first.stat().st_mtime_ns
    assert native.build(directory=tmp_path) == first and first.stat().st_mtime_ns == stamp, "built once"
    assert list(tmp_path.iterdir()) == [first], "no partial files are left"
    with pytest.raises(native.NativeBuildError, match="/nonexistent/cc"):
        native.build(compiler="/nonexistent/cc", directory=tmp_path / "other")


def test_serial_build_gives_the_same_numbers(monkeypatch, split_work, tmp_path) -> None:
    """A compiler without OpenMP still builds the kernels (one thread), with identical results."""
    serial = native._declare(ctypes.CDLL(str(native.build(directory=tmp_path, openmp=False))))
    g = torch.cat([gamma_table(), gamma_table() + 0.1])
    stack = layouts(random_stack(torch.float32))["channel-last"]
    expected = merged_and_grad(stack, g, detach=False)
    monkeypatch.setattr(native, "library", lambda: serial)
    for got, want in zip(merged_and_grad(stack, g, detach=False), expected):
        assert torch.equal(got, want)


def test_without_a_compiler_the_pytorch_path_runs_after_one_warning(monkeypatch, fresh_library, tmp_path) -> None:
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setenv("HDRSYN_CACHE_DIR", str(tmp_path))
    g = torch.cat([gamma_table(), gamma_table()])
    stack = random_stack(torch.float32)
    with pytest.warns(RuntimeWarning, match="PyTorch path.*/nonexistent/cc"):
        out = merge_log_radiance(stack, g, TIMES)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once
        assert torch.equal(merge_log_radiance(stack, g, TIMES), out)
    monkeypatch.setenv("HDRSYN_NATIVE", "0")
    assert torch.equal(merge_log_radiance(stack, g, TIMES), out)


def test_switched_off_by_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("HDRSYN_NATIVE", "0")
    assert native.library() is None and not native.usable(random_stack().flatten(3))


def test_one_channel_stack_with_a_unit_channel_stride(monkeypatch) -> None:
    """A (B, N, 1, H, W) view of (H, W, 1) images: either plane order fits, the gradient's included."""
    images = torch.rand(1, 3, 4, 5, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    x = images.permute(0, 1, 4, 2, 3)
    g, times = gamma_table(1), TIMES[:1]
    assert native.usable(x.flatten(3))
    results = []
    for switch in ("1", "0"):
        monkeypatch.setenv("HDRSYN_NATIVE", switch)
        stack = x.clone().requires_grad_(True)
        out = merge_log_radiance(stack, g, times)
        out.sum().backward()
        results.append((out.detach(), stack.grad))
    torch.testing.assert_close(results[0], results[1], rtol=0, atol=1e-12)


def test_a_corrupt_cached_library_is_rebuilt(monkeypatch, fresh_library, tmp_path) -> None:
    cached = tmp_path / native.build().name  # the name the current source builds to
    cached.write_bytes(b"not a shared library")  # e.g. a file damaged by a full disk or a crash
    monkeypatch.setenv("HDRSYN_CACHE_DIR", str(tmp_path))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # rebuilt, not warned about
        assert native.library() is not None
    assert cached.read_bytes() != b"not a shared library" and list(tmp_path.iterdir()) == [cached]
