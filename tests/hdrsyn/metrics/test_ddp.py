"""DDP correctness: metrics updated on two shards and reduced equal one metric updated on all data."""

from __future__ import annotations

import pytest
import torch
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from hdrsyn.metrics.hdr_psnr import LogPSNR, MuLawPSNR
from hdrsyn.metrics.pu21 import PU21PSNR, PU21SSIM
from hdrsyn.metrics.stack import StackMetrics

HDR_METRICS = [PU21PSNR, PU21SSIM, MuLawPSNR, LogPSNR]


def _assert_same(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-12, atol=1e-12, msg=key)


def _hdr_factories() -> list:
    factories = list(HDR_METRICS)
    try:
        from hdrsyn.metrics.colorvideovdp import ColorVideoVDP

        factories.append(ColorVideoVDP)
    except ImportError:
        pass
    return factories


@pytest.mark.parametrize("factory", _hdr_factories(), ids=lambda f: f.__name__)
def test_hdr_metrics_merge(factory, hdr_pair) -> None:
    pred, target = (x[..., :32, :32].float() for x in hdr_pair)
    whole, first, second = factory(), factory(), factory()
    whole.update(pred, target)
    first.update(pred[:2], target[:2])
    second.update(pred[2:], target[2:])
    second.merge_state(first)  # incoming state first: rank 0, then rank 1
    torch.testing.assert_close(second.per_image(), whole.per_image(), rtol=1e-6, atol=1e-6)
    for key, value in whole.compute().items():
        torch.testing.assert_close(second.compute()[key], value, rtol=1e-6, atol=1e-6, msg=key)


@pytest.mark.filterwarnings("ignore:MS-SSIM on")
def test_stack_metrics_merge(stacks) -> None:
    preds, target = (x[..., :32, :32].float() for x in stacks)
    whole, first, second = StackMetrics(), StackMetrics(), StackMetrics()
    whole.update(preds, target)
    first.update(preds[:1], target[:1])
    second.update(preds[1:], target[1:])
    second.merge_state(first)
    _assert_same(second.compute(), whole.compute())


class _TwoRankGather:
    """A ``dist_sync_fn`` for rank 0 of a simulated 2-process group: gathers its state and ``other``'s."""

    def __init__(self, other: Metric) -> None:
        self.other, self.calls = other, 0

    def __call__(self, tensor: torch.Tensor, group=None) -> list[torch.Tensor]:
        names = list(self.other._reductions)  # torchmetrics gathers the states in this order
        name = names[self.calls % len(names)]
        self.calls += 1
        return [tensor, dim_zero_cat(getattr(self.other, name))]


@pytest.mark.filterwarnings("ignore:MS-SSIM on")
@pytest.mark.parametrize("factory", [*HDR_METRICS, StackMetrics], ids=lambda f: f.__name__)
def test_torchmetrics_sync_with_a_simulated_second_rank(factory, hdr_pair, stacks) -> None:
    """torchmetrics' own sync path (list pre-concatenation, gather, "cat" reduction) on uneven shards."""
    inputs = tuple(x[..., :32, :32].float() for x in (stacks if factory is StackMetrics else hdr_pair))
    rank1 = factory()
    rank1.update(*(x[1:] for x in inputs))
    rank0 = factory(dist_sync_fn=_TwoRankGather(rank1), distributed_available_fn=lambda: True)
    rank0.update(*(x[:1] for x in inputs))
    whole = factory()
    whole.update(*inputs)
    synced, expected = rank0.compute(), whole.compute()
    assert synced.keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(synced[key], value, rtol=1e-6, atol=1e-6, msg=key)
    torch.testing.assert_close(rank0.per_image(), whole.per_image(), rtol=1e-6, atol=1e-6)
