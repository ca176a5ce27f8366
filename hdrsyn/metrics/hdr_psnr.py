"""PSNR of HDR images in compressed domains: mu-law (as the paper's HDR loss) and log radiance."""

from __future__ import annotations

from torch import Tensor

from hdrsyn.metrics.base import PerImageHDRMetric, normalized_pair
from hdrsyn.metrics.normalization import HDRNormalization
from ops.tonemap import mu_law

#: Scale alignment, then the reference maximum -> 1.
MAX_NORMALIZATION = HDRNormalization(mode="max", peak=1.0)
#: mu of the mu-law PSNR: the paper's HDR-loss value, one number for every method.
EVAL_MU = 5000.0


def mu_law_psnr(
    preds: Tensor, target: Tensor, mu: float = EVAL_MU, normalization: HDRNormalization | None = MAX_NORMALIZATION
) -> Tensor:
    """Per-image PSNR (dB, peak 1) of ``mu_law(x)`` (``log(1 + mu x) / log(1 + mu)``), shape ``(B,)``.

    After ``normalization`` (default: median scale alignment, reference maximum -> 1) both images are
    clamped to [0, 1] before the mu-law.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> [round(x, 1) for x in mu_law_psnr(pred, ref).tolist()], mu_law_psnr(ref, ref).tolist()
        ([44.2, 44.4], [inf, inf])
    """
    if mu <= 0:
        raise ValueError(f"mu must be > 0, got {mu}")
    preds, target = normalized_pair(preds, target, normalization)
    diff = mu_law(preds.clamp(0, 1), mu) - mu_law(target.clamp(0, 1), mu)
    return -10 * diff.square().flatten(1).mean(1).log10()


def log_psnr(
    preds: Tensor, target: Tensor, eps: float = 1e-4, normalization: HDRNormalization | None = MAX_NORMALIZATION
) -> Tensor:
    """Per-image PSNR (dB) of ``log10(max(x, eps))`` after scale alignment and max normalisation, ``(B,)``.

    The peak signal is the reference's log range ``log10(max(x_ref)) - log10(eps)`` (4 decades with
    the defaults).

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> [round(x, 1) for x in log_psnr(pred, ref).tolist()]
        [44.8, 45.0]
    """
    if eps <= 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    preds, target = normalized_pair(preds, target, normalization)
    log_pred, log_ref = preds.clamp_min(eps).log10(), target.clamp_min(eps).log10()
    peak = log_ref.flatten(1).amax(1) - log_ref.new_tensor(eps).log10()
    mse = (log_pred - log_ref).square().flatten(1).mean(1)
    return 10 * (peak.square() / mse).log10()


class MuLawPSNR(PerImageHDRMetric):
    """:func:`mu_law_psnr` per image. ``compute()`` -> ``{"mu_psnr", "mu_psnr_std"}``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> metric = MuLawPSNR()
        >>> metric.update(pred, ref)
        >>> {key: round(float(value), 2) for key, value in metric.compute().items()}
        {'mu_psnr': 44.32, 'mu_psnr_std': 0.1}
    """

    key = "mu_psnr"

    def __init__(
        self, mu: float = EVAL_MU, normalization: HDRNormalization | None = MAX_NORMALIZATION, **kwargs
    ) -> None:
        super().__init__(normalization, **kwargs)
        if mu <= 0:
            raise ValueError(f"mu must be > 0, got {mu}")
        self.mu = mu

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return mu_law_psnr(preds, target, self.mu, self.normalization)


class LogPSNR(PerImageHDRMetric):
    """:func:`log_psnr` per image. ``compute()`` -> ``{"log_psnr", "log_psnr_std"}``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(2)
        >>> ref = torch.rand(2, 3, 16, 16) + 0.01
        >>> pred = 3 * ref * (1 + 0.2 * torch.rand_like(ref))  # another scale (aligned away), 20 % noise
        >>> metric = LogPSNR()
        >>> metric.update(pred, ref)
        >>> {key: round(float(value), 2) for key, value in metric.compute().items()}
        {'log_psnr': 44.89, 'log_psnr_std': 0.08}
    """

    key = "log_psnr"

    def __init__(self, eps: float = 1e-4, normalization: HDRNormalization | None = MAX_NORMALIZATION, **kwargs) -> None:
        super().__init__(normalization, **kwargs)
        if eps <= 0:
            raise ValueError(f"eps must be > 0, got {eps}")
        self.eps = eps

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return log_psnr(preds, target, self.eps, self.normalization)
