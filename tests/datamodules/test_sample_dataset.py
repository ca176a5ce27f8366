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
    test = {p.stem for p in sample_scenes("test")}
    assert val == set(SAMPLE_VAL_SCENES) and len(test) == 6
    assert not train & val and not (train | val) & test and len(train | val) == 16
    with pytest.raises(ValueError, match="split must be 'train', 'val' or 'test', got 'dev'"):
        sample_scenes("dev")  # type: ignore[arg-type]


def test_test_scenes_do_not_move_the_validation_views(val_set: SampleDataset, tmp_path, monkeypatch) -> None:
    """Scene seeds index the validation / training panoramas first, so the test folder cannot change their
    views: with it empty, the validation views are the same; its own views are rendered stacks too."""
    test = SampleDataset("test", image_size=SIZE, views_per_scene=1, seed=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr("datamodules.sample.HDRI_TEST_DIR", empty)
    without = SampleDataset("val", image_size=SIZE, views_per_scene=2, seed=0)
    np.testing.assert_array_equal(without.stacks, val_set.stacks)
    assert [n.rsplit("_", 1)[0] for n in test.names] == [p.stem for p in sample_scenes("test")]
    assert test.stacks.shape == (6, 7, SIZE, SIZE, 3) and np.isfinite(test.hdrs).all()
    with pytest.raises(FileNotFoundError, match="no bundled panoramas in .*empty"):
        sample_scenes("test", test_dir=empty)


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
