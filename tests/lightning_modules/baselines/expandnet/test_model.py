"""ExpandNet: the paper's size (≈ 0.46 M parameters), branch shapes, output range."""

from __future__ import annotations

import torch

from lightning_modules.baselines.expandnet.model import ExpandNet


def test_paper_width_has_0_46_million_parameters() -> None:
    n = sum(p.numel() for p in ExpandNet(64).parameters())
    assert n == 456_899
    assert abs(n - 0.46e6) < 0.005e6


def test_any_input_size_maps_to_relative_hdr() -> None:
    net = ExpandNet(8)
    out = net(torch.rand(2, 3, 40, 56))
    assert out.shape == (2, 3, 40, 56)
    assert out.min() > 0 and out.max() < 1


def test_global_branch_gives_one_vector_per_image() -> None:
    net = ExpandNet(8)
    features = net.global_branch(torch.rand(2, 3, 256, 256))
    assert features.shape == (2, 8, 1, 1)
