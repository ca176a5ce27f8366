"""Lightning data module for all datasets: the bundled sample (default), VDS and HDR-Eye."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Literal

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.utilities import rank_zero_warn
from torch.utils.data import DataLoader, Sampler

from datamodules.base import StackDataset
from datamodules.hdr_eye import HDREyeDataset, scan_hdr_eye
from datamodules.sample import SampleDataset, SampleOptions
from datamodules.scenes import OnBadScene
from datamodules.transforms import StackAugment
from datamodules.vds import VDSDataset, VDSScene, scan_vds, scene_sources
from hdrsyn.render import EVS


class EpochPermutation(Sampler[int]):
    """The same seeded random order every time an epoch's loader is iterated (Lightning may start one
    iterator, drop it and start another: a shared generator would then give another order)."""

    def __init__(self, size: int, seed: int, epoch: int) -> None:
        self.size, self.seed, self.epoch = size, seed, epoch

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[int]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        return iter(torch.randperm(self.size, generator=generator).tolist())


class HDRStackDataModule(pl.LightningDataModule):
    """Exposure-stack samples (see :class:`~datamodules.base.StackDataset`) for training and testing.

    Splits:

    - ``"sample"``: the bundled panoramas (no download); train = 13 scenes, val = 3 other scenes
      (:data:`~datamodules.sample.SAMPLE_VAL_SCENES`), rendered as ``sample`` says; test = the val scenes,
      or with ``test_split="test"`` 6 more scenes that nothing is trained, validated or chosen on.
    - ``"vds"``: ``train_set`` minus a seeded random ``val_fraction`` of its scenes for validation (scenes
      made from one photo by ``hdrsyn make-dataset`` stay together); test = ``test_set``.
    - ``"hdr_eye"``: test only (46 scenes), stacks rendered as documented in :mod:`datamodules.hdr_eye`.

    Training samples get the paper's augmentation (random zoom-crop in ``zoom`` and horizontal flip);
    validation and test samples are only resized. Samplers are left to Lightning, which makes them
    distributed under DDP.

    Args:
        dataset: which dataset to read.
        root: dataset root for ``"vds"`` and ``"hdr_eye"`` (ignored by ``"sample"``).
        image_size: side of the square samples (256 in the paper).
        batch_size: samples per batch (1 in the paper).
        num_workers: data loader worker processes.
        seed: seed of the VDS validation split and of the sample's rendering.
        val_fraction: share of VDS training scenes held out for validation (0 = no validation).
        augment: apply the training augmentation.
        zoom: range of the random zoom factor.
        hflip: random horizontal flips.
        edge_sigma: Canny sigma of the edge maps.
        on_bad_scene: ``"error"`` stops at the first bad scene, ``"skip"`` warns and leaves it out.
        pin_memory: pin batches in page-locked memory (for GPU training).
        sample: how the bundled sample's views are rendered (``"sample"`` only; :class:`SampleOptions`: views
            per scene, held-out views, capture variation, gamma responses and their contrast), set in configs
            as ``data.init_args.sample.views_per_scene`` etc.
        test_split: the ``"sample"`` scenes ``lightning test`` scores: ``"val"`` (the held-out scenes, as
            validation sees them; every table of the project unless it says otherwise) or ``"test"`` (the
            6 test scenes of :func:`~datamodules.sample.sample_scenes`, ``sample.val_views_per_scene`` views
            each, rendered as the val views; their test outputs go to ``<default_root_dir>/test_scenes``).

    ``hparams`` (checkpoints, run logs, the data fingerprint of :mod:`hdrsyn.provenance`) keep the
    ``sample`` options flat, by their own names, as before they were grouped.
    """

    def __init__(
        self,
        dataset: Literal["sample", "vds", "hdr_eye"] = "sample",
        root: str | Path | None = None,
        image_size: int = 256,
        batch_size: int = 1,
        num_workers: int = 2,
        seed: int = 0,
        val_fraction: float = 0.1,
        augment: bool = True,
        zoom: tuple[float, float] = (1.0, 2.0),
        hflip: bool = True,
        edge_sigma: float = 2.0,
        on_bad_scene: OnBadScene = "error",
        pin_memory: bool = False,
        sample: SampleOptions = SampleOptions(),
        test_split: Literal["val", "test"] = "val",
    ) -> None:
        super().__init__()
        if dataset not in ("sample", "vds", "hdr_eye"):
            raise ValueError(f"dataset must be 'sample', 'vds' or 'hdr_eye', got {dataset!r}")
        if dataset != "sample" and root is None:
            raise ValueError(f"dataset={dataset!r} needs root= (the folder holding the dataset)")
        if not 0 <= val_fraction < 1:
            raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
        for name, value, least in (("image_size", image_size, 16), ("batch_size", batch_size, 1),
                                   ("num_workers", num_workers, 0)):
            if value < least:
                raise ValueError(f"{name} must be >= {least}, got {value}")
        if on_bad_scene not in ("skip", "error"):
            raise ValueError(f"on_bad_scene must be 'skip' or 'error', got {on_bad_scene!r}")
        self.save_hyperparameters(ignore="sample")
        self.hparams.update(asdict(sample))  # flat, as before the grouping: same logs and data fingerprints
        self.dataset = dataset
        self.root = None if root is None else Path(root)
        self.image_size = image_size
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.seed = seed
        self.val_fraction = val_fraction
        self.augment = augment
        self.zoom = tuple(zoom)
        self.hflip = hflip
        self.edge_sigma = edge_sigma
        self.on_bad_scene = on_bad_scene
        self.pin_memory = pin_memory
        self.sample = sample
        if test_split not in ("val", "test"):
            raise ValueError(f"test_split must be 'val' or 'test', got {test_split!r}")
        if test_split == "test" and dataset != "sample":
            raise ValueError(f"test_split='test' selects the bundled sample's test scenes; dataset={dataset!r} "
                             "tests its own test set (leave test_split at 'val')")
        self.test_split = test_split
        self.train_set: StackDataset | None = None
        self.val_set: StackDataset | None = None
        self.test_set: StackDataset | None = None

    def setup(self, stage: str | None = None) -> None:
        if stage in ("fit", "validate", None) and self.val_set is None:
            self._setup_fit()
        if stage in ("test", "predict", None) and self.test_set is None:
            self._setup_test()

    def _setup_fit(self) -> None:
        if self.dataset == "hdr_eye":
            raise ValueError("HDR-Eye is a test-only dataset; train on dataset='vds' or 'sample'")
        common = dict(image_size=self.image_size, edge_sigma=self.edge_sigma, on_bad_scene=self.on_bad_scene)
        augment = None
        if self.augment:
            augment = StackAugment(self.image_size, num_images=len(EVS) + 1, zoom=self.zoom, hflip=self.hflip)
        if self.dataset == "sample":
            self.train_set = SampleDataset("train", augment=augment, sampling=self.sample.training_views(),
                                           views_per_scene=self.sample.views_per_scene, seed=self.seed, **common)
            self.val_set = SampleDataset("val", views_per_scene=self.sample.held_out_views, seed=self.seed,
                                         **common)
            return
        scenes = scan_vds(self.root, "train", self.on_bad_scene)
        train_scenes, val_scenes = split_scenes(scenes, self.val_fraction, self.seed, scene_sources(self.root))
        self.train_set = VDSDataset(train_scenes, augment=augment, **common)
        self.val_set = VDSDataset(val_scenes, **common)

    def _setup_test(self) -> None:
        common = dict(image_size=self.image_size, edge_sigma=self.edge_sigma, on_bad_scene=self.on_bad_scene)
        if self.dataset == "sample" and self.test_split == "test":
            self.test_set = SampleDataset("test", views_per_scene=self.sample.held_out_views, seed=self.seed,
                                          **common)
        elif self.dataset == "sample":
            if self.val_set is None:
                self.val_set = SampleDataset("val", views_per_scene=self.sample.held_out_views, seed=self.seed,
                                             **common)
            self.test_set = self.val_set
        elif self.dataset == "vds":
            self.test_set = VDSDataset(scan_vds(self.root, "test", self.on_bad_scene), **common)
        else:
            self.test_set = HDREyeDataset(scan_hdr_eye(self.root, self.on_bad_scene), **common)

    def train_dataloader(self) -> DataLoader:
        """Shuffled training batches whose order and augmentation depend only on ``seed`` and the epoch.

        Lightning must rebuild this loader every epoch (``reload_dataloaders_every_n_epochs: 1``, set in
        the experiment configs) to hand it the epoch; then a run resumed from an end-of-epoch checkpoint
        replays the interrupted epoch exactly. Under DDP Lightning's distributed sampler, seeded with the
        run's seed and epoch, replaces the shuffling.
        """
        train_set = self._require(self.train_set, "fit")
        epoch = 0
        if self.trainer is not None:
            epoch = self.trainer.current_epoch
            if self.trainer.reload_dataloaders_every_n_epochs != 1 and self.augment:
                rank_zero_warn("HDRStackDataModule: set trainer.reload_dataloaders_every_n_epochs=1, otherwise "
                               "every epoch repeats epoch 0's augmentation")
        train_set.seed, train_set.epoch = self.seed, epoch
        return self._loader(train_set, sampler=EpochPermutation(len(train_set), self.seed, epoch))

    def val_dataloader(self) -> DataLoader | list:
        val_set = self._require(self.val_set, "fit")
        return self._loader(val_set) if len(val_set) else []

    def test_dataloader(self) -> DataLoader:
        return self._loader(self._require(self.test_set, "test"))

    def predict_dataloader(self) -> DataLoader:
        return self.test_dataloader()

    def _loader(self, dataset: StackDataset, sampler: Sampler[int] | None = None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
            pin_memory=self.pin_memory,
        )

    @staticmethod
    def _require(dataset: StackDataset | None, stage: str) -> StackDataset:
        if dataset is None:
            raise RuntimeError(f"call setup({stage!r}) before asking for its data loader")
        return dataset


def split_scenes(
    scenes: list[VDSScene], val_fraction: float, seed: int, sources: dict[str, str] | None = None
) -> tuple[list[VDSScene], list[VDSScene]]:
    """Seeded random split into ``(train, val)`` by groups of scenes sharing a source photo.

    ``sources`` maps scene names to their source (see :func:`~datamodules.vds.scene_sources`); scenes
    without one are their own group. ``round(val_fraction * groups)`` groups (>= 1 if ``val_fraction > 0``
    and there are >= 2 groups) go to validation.
    """
    sources = sources or {}
    groups = sorted({sources.get(s.name, s.name) for s in scenes})
    count = 0
    if val_fraction > 0 and len(groups) > 1:
        count = min(max(round(val_fraction * len(groups)), 1), len(groups) - 1)
    held_out = {groups[i] for i in np.random.default_rng(seed).permutation(len(groups))[:count]}
    train = [s for s in scenes if sources.get(s.name, s.name) not in held_out]
    val = [s for s in scenes if sources.get(s.name, s.name) in held_out]
    return train, val
