"""HDRCNN: VGG16 encoder, saturation blend, optional local encoder weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lightning_modules.baselines.hdrcnn.model import HDRCNN, saturation_mask


def test_encoder_is_vgg16() -> None:
    with torch.device("meta"):
        net = HDRCNN(64)
    assert sum(p.numel() for p in net.encoder.parameters()) == 14_714_688  # torchvision vgg16().features
    assert sum(p.numel() for p in net.parameters()) == 29_444_888


def test_saturation_mask_ramps_from_threshold_to_one() -> None:
    ldr = torch.tensor([0.5, 0.95, 0.975, 1.0]).view(1, 1, 1, 4).expand(1, 3, 1, 4).clone()
    ldr[:, 1:] *= 0.5  # the maximum over channels decides
    torch.testing.assert_close(saturation_mask(ldr).flatten(), torch.tensor([0.0, 0.0, 0.5, 1.0]))


def test_output_keeps_the_linearised_input_where_unsaturated() -> None:
    torch.manual_seed(0)
    net = HDRCNN(4, gamma=2.0)
    ldr = torch.rand(1, 3, 64, 64) * 0.9
    ldr[..., :16, :16] = 1.0
    out = net(ldr)
    assert out.hdr.shape == out.log_hdr.shape == (1, 3, 64, 64) and out.alpha.shape == (1, 1, 64, 64)
    torch.testing.assert_close(out.hdr[..., 16:, 16:], ldr[..., 16:, 16:] ** 2)
    torch.testing.assert_close(out.hdr[..., :16, :16], out.log_hdr[..., :16, :16].exp())


def test_input_skip_starts_as_a_sum_in_the_log_domain() -> None:
    net = HDRCNN(4)
    ldr = torch.rand(1, 3, 64, 64)
    net.head.weight.data.zero_()
    net.head.bias.data.zero_()
    torch.testing.assert_close(net(ldr).log_hdr, torch.log(ldr**2 + 1 / 255))


def test_local_vgg16_weights_are_loaded(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = HDRCNN(64)
    path = tmp_path / "vgg16.pth"
    state = {f"features.{k}": v for k, v in source.encoder.state_dict().items()}
    torch.save({**state, "classifier.0.bias": torch.ones(1)}, path)  # non-encoder entries are ignored
    loaded = HDRCNN(64, encoder_weights=path)
    for (name, a), b in zip(source.encoder.state_dict().items(), loaded.encoder.state_dict().values()):
        assert torch.equal(a, b), name


def test_missing_or_mismatched_weights_fail_clearly(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="cannot be downloaded"):
        HDRCNN(64, encoder_weights=tmp_path / "nope.pth")
    path = tmp_path / "w.pth"
    torch.save({}, path)
    with pytest.raises(ValueError, match="base_channels=64"):
        HDRCNN(8, encoder_weights=path)
