"""ExpandNet: the paper's size (≈ 0.46 M parameters), branch shapes, output range, loss."""

from __future__ import annotations

import torch

from hdrsyn.networks.baselines import ExpandNet, expandnet_loss


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


def test_loss_is_l1_plus_five_times_cosine_distance() -> None:
    target = torch.rand(1, 3, 8, 8) + 0.1
    assert expandnet_loss(target, target) < 1e-6
    # A scaled prediction has the same colour direction: only the L1 term remains.
    torch.testing.assert_close(expandnet_loss(2 * target, target), target.mean(), atol=1e-5, rtol=1e-5)
    grey = target.mean(dim=1, keepdim=True).expand_as(target)
    cosine = torch.nn.functional.cosine_similarity(grey, target, dim=1).mean()
    expected = (grey - target).abs().mean() + 5 * (1 - cosine)
    torch.testing.assert_close(expandnet_loss(grey, target), expected)
