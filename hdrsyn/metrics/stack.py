"""Exposure-stack reconstruction quality per relative EV: PSNR, SSIM and MS-SSIM (paper Table 2)."""

from __future__ import annotations

import torch
from torch import Tensor
from torchmetrics import Metric
from torchmetrics.functional.image import (
    multiscale_structural_similarity_index_measure,
    structural_similarity_index_measure,
)
from torchmetrics.utilities import rank_zero_warn
from torchmetrics.utilities.data import dim_zero_cat

#: Wang et al. 2003 MS-SSIM scale weights (finest scale first), torchmetrics' default.
MS_SSIM_BETAS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)
_KERNEL_SIZE = 11
QUANTITIES = ("psnr", "ssim", "ms_ssim")


def ms_ssim_betas_for(
    height: int, width: int, betas: tuple[float, ...] = MS_SSIM_BETAS, kernel_size: int = _KERNEL_SIZE
) -> tuple[float, ...]:
    """The longest prefix of ``betas`` usable by torchmetrics' MS-SSIM on ``height`` x ``width`` images.

    A shortened prefix (fewer, finest scales) is rescaled to sum to ``sum(betas)``. ``n`` scales need the
    coarsest scale to hold a window (``min(H, W) // 2**(n - 1) >= kernel_size``) and torchmetrics' own
    check (``min(H, W) // max(1, n - 1)**2 > kernel_size - 1``): 5 scales need 176 px, 4 need 99,
    3 need 44, 2 need 22, 1 (plain SSIM) needs 11.
    """
    side = min(height, width)
    for n in range(len(betas), 0, -1):
        if side // 2 ** (n - 1) >= kernel_size and side // max(1, n - 1) ** 2 > kernel_size - 1:
            if n == len(betas):
                return tuple(betas)
            return tuple(b * sum(betas) / sum(betas[:n]) for b in betas[:n])
    raise ValueError(f"{height}x{width} images are too small for (MS-)SSIM with an {kernel_size}-px window")


def stack_psnr(preds: Tensor, target: Tensor) -> Tensor:
    """PSNR ``10 log10(1 / MSE)`` of each generated exposure, ``(B, N - 1)`` (columns by EV, centre removed).

    ``preds`` and ``target`` are ``(B, N, 3, H, W)`` stacks in [0, 1] (N odd, darkest first); the centre
    image is the network input and is left out; predictions are clamped to [0, 1].

    Example:
        >>> import torch
        >>> target = torch.rand(1, 7, 3, 16, 16)
        >>> stack_psnr(target, target).shape
        torch.Size([1, 6])
    """
    p, t = _generated(preds, target)
    return _psnr(p, t).view(target.shape[0], -1)


def stack_scores(preds: Tensor, target: Tensor, ms_ssim_betas: tuple[float, ...] | None = None) -> dict[str, Tensor]:
    """``{"psnr", "ssim", "ms_ssim"}`` of each generated exposure, each ``(B, N - 1)`` (see :class:`StackMetrics`).

    ``ms_ssim_betas`` default: :data:`MS_SSIM_BETAS` shortened to the image size (:func:`ms_ssim_betas_for`).

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> target = torch.rand(1, 7, 3, 32, 32)  # EV -3..+3
        >>> preds = (target + 0.01 * torch.randn_like(target)).clamp(0, 1)
        >>> scores = stack_scores(preds, target)
        >>> {k: tuple(v.shape) for k, v in scores.items()}
        {'psnr': (1, 6), 'ssim': (1, 6), 'ms_ssim': (1, 6)}
        >>> [round(x, 1) for x in scores["psnr"][0].tolist()]  # EV -3, -2, -1, +1, +2, +3
        [40.1, 40.1, 40.2, 40.0, 40.0, 40.1]
    """
    p, t = _generated(preds, target)
    betas = ms_ssim_betas_for(*t.shape[-2:]) if ms_ssim_betas is None else ms_ssim_betas
    batch = target.shape[0]
    return {
        "psnr": _psnr(p, t).view(batch, -1),
        "ssim": structural_similarity_index_measure(p, t, data_range=1.0, reduction="none").view(batch, -1),
        "ms_ssim": multiscale_structural_similarity_index_measure(
            p, t, data_range=1.0, betas=betas, reduction="none"
        ).view(batch, -1),
    }


def _psnr(p: Tensor, t: Tensor) -> Tensor:
    return -10 * torch.log10((p - t).square().flatten(1).mean(1))


def _generated(preds: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """The generated exposures of both stacks as ``(B (N - 1), 3, H, W)``, predictions clamped to [0, 1]."""
    _check_stacks(preds, target)
    n = target.shape[1]
    keep = [i for i in range(n) if i != n // 2]
    return preds[:, keep].clamp(0, 1).flatten(0, 1).to(target.dtype), target[:, keep].flatten(0, 1)


class StackMetrics(Metric):
    """PSNR, SSIM and MS-SSIM of each synthesised exposure against the ground truth, per relative EV.

    ``update(preds, target)`` takes stacks ``(B, N, 3, H, W)`` in [0, 1], N odd, ordered from the
    darkest exposure to the brightest with one EV per step (N = 7: EV -3..+3). The centre image is the
    network input and is excluded. Predictions are clamped to [0, 1] (as when saved as LDR images).
    PSNR: ``10 log10(1 / MSE)`` over all channels and pixels (``inf`` for identical images). SSIM and
    MS-SSIM: torchmetrics functionals with an 11-px Gaussian window (sigma 1.5), ``data_range=1``,
    averaged over RGB channels; MS-SSIM uses ``normalize="relu"`` (torchmetrics' default). torchmetrics
    averages SSIM (and MS-SSIM's coarsest-scale SSIM term) over all pixels, windows reaching into the
    reflected border included, where Wang et al. and scikit-image use only windows inside the image:
    on 256-px images SSIM then differs from scikit-image's by up to ~1e-3, MS-SSIM from Wang's by ~1e-3.

    MS-SSIM images smaller than 176 px cannot use 5 scales: the metric then uses fewer scales
    (:func:`ms_ssim_betas_for`), warns once, and records the weights in :attr:`ms_ssim_betas_used`.

    One value per image and EV is kept (``"cat"`` states), so :meth:`compute` reports mean and
    population standard deviation (numpy's default, ``ddof=0``) over images. Keys, for each quantity
    ``q`` in ``psnr``, ``ssim``, ``ms_ssim``: ``q/ev+1`` ... ``q/ev+3``, ``q/ev-1`` ... ``q/ev-3``, their
    ``..._std``, and ``q/up``, ``q/down`` (+ ``_std``): the mean and standard deviation over all
    (image, EV) values of the stop-up (EV > 0) or stop-down (EV < 0) steps, as "Relative EV +1 / -1"
    in the paper's Table 2.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> target = torch.rand(1, 7, 3, 32, 32)
        >>> preds = (target + 0.01 * torch.randn_like(target)).clamp(0, 1)
        >>> metric = StackMetrics(ms_ssim_betas=(0.5, 0.5))  # 2 MS-SSIM scales: enough for 32-px images
        >>> metric.update(preds, target)
        >>> out = metric.compute()
        >>> len(out), round(float(out["psnr/up"]), 1), round(float(out["psnr/down"]), 1)
        (48, 40.0, 40.1)
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, ms_ssim_betas: tuple[float, ...] = MS_SSIM_BETAS, **kwargs) -> None:
        super().__init__(**kwargs)
        if not ms_ssim_betas or any(b <= 0 for b in ms_ssim_betas):
            raise ValueError(f"ms_ssim_betas must be non-empty and positive, got {ms_ssim_betas}")
        self.ms_ssim_betas = tuple(ms_ssim_betas)
        self.ms_ssim_betas_used: tuple[float, ...] | None = None
        for name in QUANTITIES:
            self.add_state(name, default=[], dist_reduce_fx="cat")

    def update(self, preds: Tensor, target: Tensor) -> None:
        """Add a batch of stacks ``(B, N, 3, H, W)`` in [0, 1]."""
        _check_stacks(preds, target)
        betas = ms_ssim_betas_for(*target.shape[-2:], betas=self.ms_ssim_betas)
        if betas != self.ms_ssim_betas and betas != self.ms_ssim_betas_used:
            rank_zero_warn(f"MS-SSIM on {tuple(target.shape[-2:])} images uses {len(betas)} scales, betas={betas}")
        self.ms_ssim_betas_used = betas
        for name, value in stack_scores(preds, target, betas).items():
            getattr(self, name).append(value)

    def per_image(self) -> dict[str, Tensor]:
        """``{quantity: (num_images, N - 1)}`` values, columns ordered by EV (centre removed), synced across ranks."""
        with self.sync_context(dist_sync_fn=self.dist_sync_fn, process_group=self.process_group):
            return {name: dim_zero_cat(getattr(self, name)) for name in QUANTITIES}

    def compute(self) -> dict[str, Tensor]:
        out = {}
        for name in QUANTITIES:
            values = dim_zero_cat(getattr(self, name))
            n = values.shape[1] + 1
            evs = [i - n // 2 for i in range(n) if i != n // 2]
            for column, ev in enumerate(evs):
                out[f"{name}/ev{ev:+d}"], out[f"{name}/ev{ev:+d}_std"] = _mean_std(values[:, column])
            up = torch.tensor([ev > 0 for ev in evs], device=values.device)
            out[f"{name}/up"], out[f"{name}/up_std"] = _mean_std(values[:, up])
            out[f"{name}/down"], out[f"{name}/down_std"] = _mean_std(values[:, ~up])
        return out


def _mean_std(values: Tensor) -> tuple[Tensor, Tensor]:
    return values.mean(), values.std(correction=0)


def _check_stacks(preds: Tensor, target: Tensor) -> None:
    for name, x in (("preds", preds), ("target", target)):
        if not isinstance(x, Tensor) or not x.is_floating_point():
            raise ValueError(f"{name} must be a floating-point tensor")
        if x.dim() != 5 or x.shape[2] != 3 or x.shape[1] % 2 == 0 or x.shape[1] < 3:
            raise ValueError(f"{name} must be a (B, N, 3, H, W) stack with N odd >= 3, got {tuple(x.shape)}")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty (shape {list(x.shape)}): an empty batch or a zero-size image")
    if preds.shape != target.shape:
        raise ValueError(f"preds and target shapes differ: {tuple(preds.shape)} vs {tuple(target.shape)}")
    if target.min() < 0 or target.max() > 1:
        raise ValueError("target stack must be in [0, 1]")
