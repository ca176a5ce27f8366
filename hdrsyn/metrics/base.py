"""Base class of the per-image HDR metrics: each metric is a functional form plus this ``Metric`` around it."""

from __future__ import annotations

from abc import abstractmethod

from torch import Tensor
from torchmetrics import Metric
from torchmetrics.utilities.data import dim_zero_cat

from hdrsyn.metrics.normalization import PERCENTILE_1_1000, HDRNormalization, check_hdr_pair


def normalized_pair(
    preds: Tensor, target: Tensor, normalization: HDRNormalization | None
) -> tuple[Tensor, Tensor]:
    """Check a ``(B, 3, H, W)`` pair and map it by ``normalization`` (None: leave it as it is)."""
    check_hdr_pair(preds, target)
    return (preds, target) if normalization is None else normalization(preds, target)


class PerImageHDRMetric(Metric):
    """``update(preds, target)`` on ``(B, 3, H, W)`` linear RGB; ``compute()`` -> ``{key: mean, key_std: std}``.

    :meth:`score` is the metric's functional form (e.g. :func:`~hdrsyn.metrics.pu21_psnr`) called with
    this metric's settings, ``normalization`` included, so a score is defined once. Scores are kept per
    image (``"cat"`` state, gathered across DDP ranks); the standard deviation is the population one
    (numpy's default, ``ddof=0``).
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False
    #: Name of the mean in the dict returned by :meth:`compute`.
    key: str

    def __init__(self, normalization: HDRNormalization | None = PERCENTILE_1_1000, **kwargs) -> None:
        super().__init__(**kwargs)
        self.normalization = normalization
        self.add_state("scores", default=[], dist_reduce_fx="cat")

    @abstractmethod
    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        """Per-image scores ``(B,)`` of a raw (not yet normalised) pair: the functional form."""

    def update(self, preds: Tensor, target: Tensor) -> None:
        self.scores.append(self.score(preds, target).detach().reshape(-1))

    def per_image(self) -> Tensor:
        """All per-image scores in update order (rank by rank under DDP)."""
        with self.sync_context(dist_sync_fn=self.dist_sync_fn, process_group=self.process_group):
            return dim_zero_cat(self.scores)

    def compute(self) -> dict[str, Tensor]:
        values = dim_zero_cat(self.scores)
        return {self.key: values.mean(), f"{self.key}_std": values.std(correction=0)}
