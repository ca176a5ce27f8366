"""PSNR of HDR images in compressed domains: mu-law (as the paper's HDR loss) and log radiance."""

from __future__ import annotations

from torch import Tensor

from hdrsyn.metrics.base import PerImageHDRMetric
from hdrsyn.metrics.normalization import HDRNormalization
from ops.tonemap import mu_law

#: Scale alignment, then the reference maximum -> 1.
MAX_NORMALIZATION = HDRNormalization(mode="max", peak=1.0)


class MuLawPSNR(PerImageHDRMetric):
    """PSNR (dB, peak 1) of ``mu_law(x)`` (``log(1 + mu x) / log(1 + mu)``) on max-normalised HDR.

    After ``normalization`` (default: median scale alignment, reference maximum -> 1) both images are
    clamped to [0, 1] before the mu-law. ``compute()`` -> ``{"mu_psnr", "mu_psnr_std"}``.
    """

    key = "mu_psnr"

    def __init__(
        self, mu: float = 5000.0, normalization: HDRNormalization | None = MAX_NORMALIZATION, **kwargs
    ) -> None:
        super().__init__(normalization, **kwargs)
        if mu <= 0:
            raise ValueError(f"mu must be > 0, got {mu}")
        self.mu = mu

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        diff = mu_law(preds.clamp(0, 1), self.mu) - mu_law(target.clamp(0, 1), self.mu)
        return -10 * diff.square().flatten(1).mean(1).log10()


class LogPSNR(PerImageHDRMetric):
    """PSNR (dB) of ``log10(max(x, eps))`` after scale alignment and max normalisation.

    The peak signal is the reference's log range ``log10(max(x_ref)) - log10(eps)`` (4 decades with
    the defaults). ``compute()`` -> ``{"log_psnr", "log_psnr_std"}``.
    """

    key = "log_psnr"

    def __init__(self, eps: float = 1e-4, normalization: HDRNormalization | None = MAX_NORMALIZATION, **kwargs) -> None:
        super().__init__(normalization, **kwargs)
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = eps

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        log_pred, log_ref = preds.clamp_min(self.eps).log10(), target.clamp_min(self.eps).log10()
        peak = log_ref.flatten(1).amax(1) - log_ref.new_tensor(self.eps).log10()
        mse = (log_pred - log_ref).square().flatten(1).mean(1)
        return 10 * (peak.square() / mse).log10()
