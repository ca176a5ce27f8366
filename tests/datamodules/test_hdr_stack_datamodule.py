from __future__ import annotations

from pathlib import Path

import pytest
import torch
from lightning_fabric.utilities.distributed import DistributedSamplerWrapper
from pytorch_lightning.utilities.data import _update_dataloader

from datamodules.hdr_stack import EpochPermutation, HDRStackDataModule, split_scenes
from datamodules.sample import SampleOptions
from datamodules.scenes import DatasetNotFoundError
from datamodules.vds import scan_vds

ONE_VIEW = SampleOptions(views_per_scene=1)


def test_default_is_the_bundled_sample_and_batches_collate() -> None:
    datamodule = HDRStackDataModule(image_size=32, sample=ONE_VIEW, batch_size=2, num_workers=2)
    assert datamodule.dataset == "sample"
    datamodule.setup("fit")
    assert len(datamodule.train_set) == 13 and len(datamodule.val_set) == 3
    batch = next(iter(datamodule.train_dataloader()))  # through two worker processes
    assert batch["stack"].shape == (2, 7, 3, 32, 32)
    assert batch["edges"].shape == (2, 7, 1, 32, 32)
    assert batch["ev"].shape == (2, 7) and len(batch["name"]) == 2
    datamodule.setup("test")
    assert datamodule.test_set is datamodule.val_set
    unseen = HDRStackDataModule(image_size=32, sample=ONE_VIEW, num_workers=0, test_split="test")
    unseen.setup("test")
    assert len(unseen.test_set) == 6 and not {n.rsplit("_", 1)[0] for n in unseen.test_set.names} & {
        n.rsplit("_", 1)[0] for n in datamodule.val_set.names}


def test_more_training_views_keep_the_validation_views() -> None:
    """``val_views_per_scene`` holds the held-out views fixed while the training set grows."""
    few = HDRStackDataModule(image_size=32, sample=ONE_VIEW, num_workers=0)
    many = HDRStackDataModule(image_size=32, sample=SampleOptions(views_per_scene=3, val_views_per_scene=1),
                              num_workers=0)
    few.setup("fit")
    many.setup("fit")
    assert len(many.train_set) == 3 * len(few.train_set) == 39
    assert many.val_set.names == few.val_set.names and len(few.val_set) == 3
    assert (many.val_set.stacks == few.val_set.stacks).all()
    assert [many.train_set.names[3 * i] for i in range(13)] == few.train_set.names
    many.setup("test")
    assert many.test_set.names == few.val_set.names
    gamma = HDRStackDataModule(image_size=32, sample=SampleOptions(views_per_scene=1, gamma_responses=1.0),
                                 num_workers=0)
    gamma.setup("fit")  # training views through gamma curves; the held-out views stay as they are
    assert (gamma.val_set.stacks == few.val_set.stacks).all()
    assert not (gamma.train_set.stacks == few.train_set.stacks).all()


def test_vds_splits(vds_root: Path) -> None:
    datamodule = HDRStackDataModule("vds", root=vds_root, image_size=32, num_workers=0, val_fraction=0.34)
    datamodule.setup("fit")
    datamodule.setup("test")
    train = [s["name"] for s in datamodule.train_set]
    val = [s["name"] for s in datamodule.val_set]
    assert sorted(train + val) == ["t01", "t02", "t03"] and len(val) == 1
    assert [s["name"] for s in datamodule.test_set] == ["t04", "t05"]
    again = HDRStackDataModule("vds", root=vds_root, image_size=32, num_workers=0, val_fraction=0.34)
    again.setup("fit")
    assert [s["name"] for s in again.val_set] == val

    no_val = HDRStackDataModule("vds", root=vds_root, image_size=32, num_workers=0, val_fraction=0.0)
    no_val.setup("fit")
    assert len(no_val.train_set) == 3 and no_val.val_dataloader() == []


def test_split_keeps_scenes_of_one_photo_together(vds_root: Path) -> None:
    scenes = scan_vds(vds_root, "train")
    sources = {"t01": "a.exr", "t02": "a.exr", "t03": "b.exr"}
    for seed in range(4):
        train, val = split_scenes(scenes, 0.5, seed, sources)
        assert {sources[s.name] for s in train}.isdisjoint(sources[s.name] for s in val)
        assert train and val


def test_training_order_is_a_function_of_seed_and_epoch() -> None:
    """Every iterator of an epoch's loader gives one order (exact resume); epochs and seeds differ."""
    datamodule = HDRStackDataModule(image_size=32, sample=ONE_VIEW, num_workers=0)
    datamodule.setup("fit")
    sampler = datamodule.train_dataloader().sampler
    assert isinstance(sampler, EpochPermutation)
    assert list(sampler) == list(sampler) and sorted(sampler) == list(range(len(sampler)))
    assert list(EpochPermutation(13, 0, 1)) != list(EpochPermutation(13, 0, 0)) != list(EpochPermutation(13, 1, 0))


def test_distributed_sampler_partitions_the_data() -> None:
    datamodule = HDRStackDataModule(image_size=32, sample=SampleOptions(views_per_scene=2), num_workers=0)  # 26: no pad
    datamodule.setup("fit")
    loader = datamodule.train_dataloader()
    seen = []
    for rank in range(2):  # what Lightning does under DDP with a custom sampler
        sampler = DistributedSamplerWrapper(loader.sampler, num_replicas=2, rank=rank, shuffle=False)
        seen.append(list(_update_dataloader(loader, sampler).sampler))
    assert not set(seen[0]) & set(seen[1])
    assert sorted(seen[0] + seen[1]) == list(range(len(loader.dataset)))


def test_configuration_errors(tmp_path: Path, hdr_eye_root: Path) -> None:
    with pytest.raises(ValueError, match="needs root"):
        HDRStackDataModule("vds")
    with pytest.raises(ValueError, match="on_bad_scene"):
        HDRStackDataModule(on_bad_scene="ignore")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"gamma_responses must be in \[0, 1\], got 1.5"):
        SampleOptions(gamma_responses=1.5)
    with pytest.raises(ValueError, match=r"gamma_contrast must be a range within \[0, 1\], got \(0.5, 0.2\)"):
        SampleOptions(gamma_contrast=(0.5, 0.2))
    with pytest.raises(ValueError, match="test_split must be 'val' or 'test', got 'unseen'"):
        HDRStackDataModule(test_split="unseen")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="test_split='test' selects the bundled sample's test scenes; dataset='vds'"):
        HDRStackDataModule("vds", root=tmp_path, test_split="test")
    with pytest.raises(DatasetNotFoundError, match=r"expected under root=.*: train_set/<scene>/"):
        HDRStackDataModule("vds", root=tmp_path / "missing").setup("fit")
    hdr_eye = HDRStackDataModule("hdr_eye", root=hdr_eye_root, image_size=32, num_workers=0)
    with pytest.raises(ValueError, match="test-only"):
        hdr_eye.setup("fit")
    hdr_eye.setup("test")
    batch = next(iter(hdr_eye.test_dataloader()))
    assert batch["name"] == ["C01"] and batch["stack"].dtype == torch.float32


def test_sample_options_stay_flat_in_hparams() -> None:
    """Grouped as one argument, the sample's options are saved flat, by the names they had before the grouping:
    checkpoints, run logs and data fingerprints of the same data stay the same."""
    datamodule = HDRStackDataModule(image_size=32, sample=SampleOptions(views_per_scene=3, gamma_contrast=(0.1, 0.2)))
    assert "sample" not in datamodule.hparams
    assert {k: datamodule.hparams[k] for k in ("views_per_scene", "val_views_per_scene", "vary_capture",
                                               "gamma_responses", "gamma_contrast")} == {
        "views_per_scene": 3, "val_views_per_scene": None, "vary_capture": True, "gamma_responses": 0.0,
        "gamma_contrast": (0.1, 0.2)}
    assert datamodule.sample.held_out_views == 3
