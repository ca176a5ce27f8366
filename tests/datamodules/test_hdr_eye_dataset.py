from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from datamodules.hdr_eye import HDREyeDataset, match_exposure, scan_hdr_eye
from datamodules.scenes import BadSceneError, DatasetNotFoundError
from hdrsyn.render import EMoR, apply_response

SIZE = 32


def test_reads_real_layout_and_renders_stacks(hdr_eye_root: Path) -> None:
    scenes = scan_hdr_eye(hdr_eye_root)
    assert [s.name for s in scenes] == ["C01", "C02", "C03"]
    sample = HDREyeDataset(scenes, image_size=SIZE)[0]
    assert sample["name"] == "C01"
    assert sample["stack"].shape == (7, 3, SIZE, SIZE) and sample["edges"].shape == (7, 1, SIZE, SIZE)
    assert sample["ldr"].shape == sample["hdr"].shape == (3, SIZE, SIZE)
    means = sample["stack"].mean(dim=(1, 2, 3))
    assert torch.all(means[1:] >= means[:-1])
    # The fixture's LDR is f0(1.5 * HDR): the rendered EV 0 image reproduces it.
    assert (sample["stack"][3] - sample["ldr"]).abs().mean() < 0.02
    # Documented convention: stack[i] = f0(clip(hdr * 2**ev[i])).
    f0 = EMoR.load().response()
    hdr = sample["hdr"].permute(1, 2, 0).numpy()
    for i, ev in enumerate(sample["ev"].tolist()):
        expected = np.round(apply_response(np.clip(hdr * 2.0**ev, 0, 1), f0) * 255) / 255
        np.testing.assert_allclose(sample["stack"][i].permute(1, 2, 0).numpy(), expected, atol=1.5 / 255)


def test_match_exposure_recovers_the_scale() -> None:
    rng = np.random.default_rng(3)
    hdr = np.exp2(rng.uniform(-6, 2, size=(64, 64, 3))).astype(np.float32)
    f0 = EMoR.load().response()
    for scale in (0.3, 2.0, 11.0):
        ldr = apply_response(np.clip(hdr * scale, 0, 1), f0)
        assert abs(np.log2(match_exposure(hdr, ldr, f0) / scale)) <= 1 / 16 + 1e-6


def test_missing_root_and_bad_scenes(tmp_path: Path, hdr_eye_root: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match="images/LDR/Cxx_LDR.tif"):
        scan_hdr_eye(tmp_path / "nowhere")
    (hdr_eye_root / "images" / "HDR" / "C02_HDR.hdr").unlink()
    with pytest.raises(BadSceneError, match="C02_HDR.hdr"):
        scan_hdr_eye(hdr_eye_root)
    with pytest.warns(UserWarning, match="C02"):
        assert [s.name for s in scan_hdr_eye(hdr_eye_root, on_bad_scene="skip")] == ["C01", "C03"]
