"""The bundled sample dataset: exposure stacks rendered from 22 real HDR panoramas (no download).

Each scene is an equirectangular HDR photograph in ``hdrsyn/assets/hdri`` (16) or ``hdrsyn/assets/hdri_test``
(6; all CC0, Poly Haven). A sample is a
random perspective view of it rendered with :func:`hdrsyn.render.render_random_view`: a real camera
response drawn from EMoR, per-view auto exposure, sensor noise, clipping and 8-bit quantisation. The
views are rendered once, when the dataset is built, and kept in memory (uint8 stacks, float32 HDR).

Splits are whole scenes: :data:`SAMPLE_VAL_SCENES` for validation (and, by default, testing), the other 13
of ``hdri`` for training, and the 6 of ``hdri_test`` for a test that nothing was trained, validated or chosen
on (another source: Blender's world lights, of other places than the 16). Everything is deterministic given
``seed``: each scene draws from its own generator seeded with ``(seed, scene index)``, the index running
over ``hdri`` and then ``hdri_test`` (so the train and validation views do not depend on the test scenes).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from datamodules.base import REFERENCE_INDEX, RawSample, StackDataset
from datamodules.scenes import OnBadScene
from datamodules.transforms import StackAugment
from hdrsyn.assets_index import HDRI_DIR, HDRI_TEST_DIR
from hdrsyn.io import read_hdr
from hdrsyn.render import VARIED_CAPTURE, EMoR, ViewSampling, render_random_view, repair_hdr

#: Bundled panoramas used for validation (and testing): one indoor, one outdoor at dusk, one night scene.
SAMPLE_VAL_SCENES = ("lab", "venice", "night")

#: Per-scene view constraints: ``sky.exr`` has a synthetic lower half, so its views stay above the horizon.
SCENE_SAMPLING_OVERRIDES: dict[str, dict[str, bool]] = {"sky": {"above_horizon": True}}


@dataclass(frozen=True)
class SampleOptions:
    """How :class:`~datamodules.hdr_stack.HDRStackDataModule` renders the bundled sample's views
    (``dataset="sample"`` only; configs set them as ``data.init_args.sample.<name>``).

    Args:
        views_per_scene: rendered views per training panorama.
        val_views_per_scene: rendered views per held-out panorama (default ``views_per_scene``). The first
            ``k`` views of a panorama do not depend on how many follow, so a run with more training views can
            keep the default runs' 3 x 8 validation views.
        vary_capture: training views vary the input's exposure (auto-exposure key 0.09-0.36) and JPEG quality
            (60-100) besides the camera response and noise (:data:`~hdrsyn.render.VARIED_CAPTURE`);
            validation and test views keep the fixed key 0.18 and no JPEG, so their numbers stay comparable.
        gamma_responses: share of training views rendered through a plain gamma response (``E^(1/g)``,
            ``g`` in 1.8..2.6) instead of an EMoR one (:class:`~hdrsyn.render.ViewSampling`).
        gamma_contrast: range of the strength of the contrast S-curve that follows those gamma curves
            (:func:`~hdrsyn.render.contrast_curve`; ``(0, 0)``: none).
        highlight_tries: framings drawn per training view, the one with the most clipped highlights kept
            (:func:`~hdrsyn.render.highlight_content`; 1: any framing). Held-out views keep 1.
    """

    views_per_scene: int = 8
    val_views_per_scene: int | None = None
    vary_capture: bool = True
    gamma_responses: float = 0.0
    gamma_contrast: tuple[float, float] = (0.0, 0.0)
    highlight_tries: int = 1

    def __post_init__(self) -> None:
        if not 0 <= self.gamma_responses <= 1:
            raise ValueError(f"gamma_responses must be in [0, 1], got {self.gamma_responses}")
        low, high = self.gamma_contrast
        if not 0 <= low <= high <= 1:
            raise ValueError(f"gamma_contrast must be a range within [0, 1], got {tuple(self.gamma_contrast)}")
        self.training_views()  # ViewSampling checks highlight_tries

    @property
    def held_out_views(self) -> int:
        """Views per held-out (validation or test) panorama: ``val_views_per_scene``, else ``views_per_scene``."""
        return self.views_per_scene if self.val_views_per_scene is None else self.val_views_per_scene

    def training_views(self) -> ViewSampling:
        """The ranges of the random training views these options ask for."""
        low, high = self.gamma_contrast
        return replace(VARIED_CAPTURE if self.vary_capture else ViewSampling(),
                       gamma_responses=self.gamma_responses, contrast=(float(low), float(high)),
                       highlight_tries=self.highlight_tries)


def sample_scenes(
    split: Literal["train", "val", "test"], hdri_dir: Path = HDRI_DIR, test_dir: Path = HDRI_TEST_DIR
) -> list[Path]:
    """The panorama files of a split of the bundled sample."""
    if split not in ("train", "val", "test"):
        raise ValueError(f"split must be 'train', 'val' or 'test', got {split!r}")
    folder = test_dir if split == "test" else hdri_dir
    files = sorted(folder.glob("*.exr"))
    if not files:
        raise FileNotFoundError(f"no bundled panoramas in {folder}; the hdrsyn package data is missing")
    if split == "test":
        return files
    return [f for f in files if (f.stem in SAMPLE_VAL_SCENES) == (split == "val")]


class SampleDataset(StackDataset):
    """Random views of the bundled panoramas as exposure stacks (see the module doc).

    Args:
        split: ``"train"`` (13 scenes), ``"val"`` (:data:`SAMPLE_VAL_SCENES`) or ``"test"`` (the 6 test scenes).
        image_size: side of the rendered views (128 for CPU configs, 256 as in the paper).
        views_per_scene: views rendered per panorama.
        seed: seed of the views, responses and noise.
        sampling: ranges of the random views (per-scene constraints in :data:`SCENE_SAMPLING_OVERRIDES` win).
        Other arguments: see :class:`~datamodules.base.StackDataset`.
    """

    def __init__(
        self,
        split: Literal["train", "val", "test"] = "train",
        image_size: int = 256,
        views_per_scene: int = 8,
        seed: int = 0,
        sampling: ViewSampling = ViewSampling(),
        augment: StackAugment | None = None,
        edge_sigma: float = 2.0,
        on_bad_scene: OnBadScene = "error",
    ) -> None:
        super().__init__(image_size, augment, edge_sigma, on_bad_scene)
        if views_per_scene < 1:
            raise ValueError(f"views_per_scene must be >= 1, got {views_per_scene}")
        emor = EMoR.load()
        all_names = [f.stem for folder in (HDRI_DIR, HDRI_TEST_DIR) for f in sorted(folder.glob("*.exr"))]
        self.names: list[str] = []
        stacks, hdrs = [], []
        for path in sample_scenes(split):
            pano = repair_hdr(read_hdr(path))
            rng = np.random.default_rng([seed, all_names.index(path.stem)])
            scene_sampling = replace(sampling, **SCENE_SAMPLING_OVERRIDES.get(path.stem, {}))
            for view in range(views_per_scene):
                stack, hdr = render_random_view(pano, emor, rng, image_size, panorama=True, sampling=scene_sampling)
                self.names.append(f"{path.stem}_{view:03d}")
                stacks.append(stack)
                hdrs.append(hdr)
        self.stacks = np.stack(stacks)
        self.hdrs = np.stack(hdrs)

    def __len__(self) -> int:
        return len(self.names)

    def load(self, index: int) -> RawSample:
        stack = self.stacks[index]
        return RawSample(self.names[index], stack[REFERENCE_INDEX], stack, self.hdrs[index])
