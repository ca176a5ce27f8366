import pytest
import torch

from lightning_modules.diffhdrsyn.model import (
    WIDTH_PRESETS,
    ExposureNet,
    GeneratorWidths,
    NetWidth,
    StackGenerator,
    get_widths,
)


def count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.fixture(scope="module")
def paper_generator() -> StackGenerator:
    with torch.device("meta"):  # counts parameters without allocating 0.9 GB
        return StackGenerator("paper", shift_residual=False, clip_headroom=False)  # the paper's formulation


def test_paper_total_matches_232m(paper_generator):
    total = count(paper_generator)
    assert total == 231_333_166
    assert total == pytest.approx(232e6, rel=0.03)


def test_paper_sub_networks(paper_generator):
    for direction in (paper_generator.up, paper_generator.down):
        assert count(direction.global_net) == 98_911_587  # authors: ~99 M
        assert count(direction.local_net) == 6_181_121  # ~6 M
        assert count(direction.refine_net) == 10_573_875  # ~11 M
        assert count(direction.global_net) == pytest.approx(99e6, rel=0.01)
        assert count(direction.local_net) == pytest.approx(6e6, rel=0.05)
        assert count(direction.refine_net) == pytest.approx(11e6, rel=0.05)


@pytest.mark.parametrize(("name", "low", "high"), [("cpu", 0.5e6, 2e6), ("tiny", 1e4, 0.5e6)])
def test_small_presets(name, low, high):
    with torch.device("meta"):
        net = ExposureNet(name)
    assert low <= count(net) <= high


def test_get_widths():
    custom = GeneratorWidths(NetWidth(4, 8), NetWidth(4, 8), NetWidth(4, 8))
    assert get_widths(custom) is custom
    assert get_widths("paper") is WIDTH_PRESETS["paper"]
    assert get_widths("paper").global_net == NetWidth(32, 1024)
    with pytest.raises(ValueError, match="unknown width preset width=.huge."):
        get_widths("huge")
