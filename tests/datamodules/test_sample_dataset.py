from __future__ import annotations

import numpy as np
import pytest

from datamodules.sample import SAMPLE_VAL_SCENES, SampleDataset, sample_scenes

SIZE = 32


@pytest.fixture(scope="module")
def val_set() -> SampleDataset:
    return SampleDataset("val", image_size=SIZE, views_per_scene=2, seed=0)


def test_splits_are_whole_scenes() -> None:
    train = {p.stem for p in sample_scenes("train")}
    val = {p.stem for p in sample_scenes("val")}
    assert val == set(SAMPLE_VAL_SCENES)
    assert not train & val and len(train | val) == 16


def test_samples_are_rendered_stacks(val_set: SampleDataset) -> None:
    assert len(val_set) == 2 * len(SAMPLE_VAL_SCENES)
    assert val_set.names[:2] == ["lab_000", "lab_001"]
    sample = val_set[0]
    assert sample["stack"].shape == (7, 3, SIZE, SIZE) and sample["hdr"].shape == (3, SIZE, SIZE)
    assert sample["hdr"].min() >= 0
    # 8-bit quantised, brighter with EV, EV 0 is the input
    levels = sample["stack"] * 255
    assert (levels - levels.round()).abs().max() < 1e-4
    means = sample["stack"].mean(dim=(1, 2, 3))
    assert (means[1:] > means[:-1]).all()
    assert (sample["ldr"] == sample["stack"][3]).all()
    # auto exposure: EV 0 is neither black nor white
    assert 0.15 < float(sample["ldr"].mean()) < 0.75


def test_deterministic_given_seed(val_set: SampleDataset) -> None:
    again = SampleDataset("val", image_size=SIZE, views_per_scene=2, seed=0)
    other = SampleDataset("val", image_size=SIZE, views_per_scene=2, seed=1)
    np.testing.assert_array_equal(val_set.stacks, again.stacks)
    np.testing.assert_array_equal(val_set.hdrs, again.hdrs)
    assert not np.array_equal(val_set.stacks, other.stacks)
