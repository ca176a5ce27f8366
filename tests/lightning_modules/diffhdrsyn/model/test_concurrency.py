import threading

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from lightning_modules.diffhdrsyn.model import StackGenerator, concurrency
from lightning_modules.diffhdrsyn.model.concurrency import concurrent_directions_apply, flushing_denormals, run_both
from tests.helpers import randomize_heads


@pytest.fixture
def two_threads():
    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def sequential(monkeypatch: pytest.MonkeyPatch):
    """Switch the concurrency off (the generator then runs both directions in the caller's thread)."""
    return lambda: monkeypatch.setattr(concurrency, "concurrent_directions_apply", lambda x: False)


def test_generator_outputs_are_identical_with_concurrent_directions(two_threads, sequential) -> None:
    torch.manual_seed(0)
    generator = StackGenerator("cpu", margin=0).eval()
    randomize_heads(generator)
    x = torch.rand(1, 3, 64, 96)
    second_thread = []
    hook = generator.down.global_net.register_forward_hook(
        lambda *args: second_thread.append(threading.current_thread() is not threading.main_thread()))
    with torch.inference_mode():
        assert concurrent_directions_apply(x)
        concurrent = generator(x)
        sequential()
        alone = generator(x)
    hook.remove()
    assert second_thread == [True] * 3 + [False] * 3  # the stop-down net ran in the worker, then in the caller
    assert all(torch.equal(concurrent[key], alone[key]) for key in alone)
    assert all(value.is_inference() for value in concurrent.values())


def test_concurrency_only_without_autograd_on_several_threads(two_threads) -> None:
    x = torch.rand(1, 3, 8, 8)
    assert not concurrent_directions_apply(x)  # grad mode on: training keeps one thread
    with torch.no_grad():
        assert concurrent_directions_apply(x)
        with FlopCounterMode(display=False):  # dispatch modes are per thread: they would miss the worker
            assert not concurrent_directions_apply(x)
        assert not concurrent_directions_apply(torch.rand(1, 3, 1024, 1024))  # large maps use the cores alone
        torch.set_num_threads(1)
        assert not concurrent_directions_apply(x)


def test_worker_gets_the_callers_modes(two_threads) -> None:
    def modes() -> tuple[bool, bool, bool, int]:
        return (torch.is_grad_enabled(), torch.is_inference_mode_enabled(), flushing_denormals(),
                torch.get_num_threads())

    x = torch.rand(1, 3, 8, 8)
    torch.set_flush_denormal(True)
    try:
        with torch.no_grad():
            mine, worker = run_both(modes, modes, x)
        assert mine == worker == (False, False, torch.set_flush_denormal(True), 2)
        with torch.inference_mode():
            mine, worker = run_both(modes, modes, x)
        assert mine == worker and worker[1]
    finally:
        torch.set_flush_denormal(False)
    with torch.no_grad():
        assert run_both(modes, modes, x)[1][2] is False


def test_errors_of_either_side_reach_the_caller(two_threads) -> None:
    def fail() -> None:
        raise ValueError("in a direction")

    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        for first, second in ((fail, lambda: 1), (lambda: 1, fail)):
            with pytest.raises(ValueError, match="in a direction"):
                run_both(first, second, x)
        assert run_both(lambda: 1, lambda: 2, x) == (1, 2)  # the worker still serves


def test_a_forked_process_makes_its_own_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = concurrency._executor()
    assert concurrency._executor() is worker
    monkeypatch.setattr(concurrency.os, "getpid", lambda: -1)
    assert concurrency._executor() is not worker


def test_nested_use_inside_the_worker_runs_in_place(two_threads) -> None:
    x = torch.rand(1, 3, 8, 8)
    with torch.no_grad():
        inner = lambda: run_both(lambda: 1, lambda: threading.current_thread().name, x)  # noqa: E731
        assert run_both(lambda: 0, inner, x)[1][1].startswith("hdrsyn-direction")
