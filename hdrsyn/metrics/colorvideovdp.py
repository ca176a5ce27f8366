"""ColorVideoVDP (Mantiuk et al. 2024, ``pip install cvvdp``) on normalised HDR image pairs, in JOD."""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from hdrsyn.metrics.base import PerImageHDRMetric, normalized_pair
from hdrsyn.metrics.display import PAPER_RESOLUTION, pixels_per_degree
from hdrsyn.metrics.normalization import PERCENTILE_1_1000, HDRNormalization

#: ColorVideoVDP's display model: linear BT.709 input, 1500 cd/m² peak, 10 lux ambient.
DEFAULT_DISPLAY = "standard_hdr_linear"


def cvvdp_available() -> bool:
    """Whether the ``cvvdp`` package (module ``pycvvdp``) is installed."""
    return importlib.util.find_spec("pycvvdp") is not None


def color_video_vdp(
    preds: Tensor,
    target: Tensor,
    display: str = DEFAULT_DISPLAY,
    ppd: float | None = None,
    normalization: HDRNormalization | None = PERCENTILE_1_1000,
) -> Tensor:
    """Per-image ColorVideoVDP quality in JOD (10 = no visible difference), ``(B,)``.

    The pair is normalised to absolute cd/m² (default: reference 0.1 / 99.9 % luminance percentiles ->
    1..1000 cd/m²) and shown on ``display`` (a ColorVideoVDP photometric model with linear input; the
    default clips above 1500 cd/m²) seen at ``ppd`` pixels per degree, by default the paper's HDR-VDP-2
    geometry (24-inch 1920x1200 display at 0.5 m, ≈ 33.5 ppd). Runs offline on the inputs' device; the
    model is built once per (display, ppd, device). About 0.05 s per 128-px image on one CPU core.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> ref = torch.rand(1, 3, 32, 32) + 0.01
        >>> round(float(color_video_vdp(ref, ref)), 3)  # identical images: 10 JOD
        10.0
    """
    preds, target = normalized_pair(preds, target, normalization)
    model = _model(display, pixels_per_degree() if ppd is None else float(ppd), preds.device)
    with torch.no_grad():
        jod, _ = model.predict(preds.float().unsqueeze(2), target.float().unsqueeze(2), dim_order="BCFHW")
    return jod.to(preds.device, preds.dtype).reshape(-1)


class ColorVideoVDP(PerImageHDRMetric):
    """:func:`color_video_vdp` per image. ``compute()`` -> ``{"cvvdp", "cvvdp_std"}``.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> ref = torch.rand(2, 3, 32, 32) + 0.01
        >>> metric = ColorVideoVDP()
        >>> metric.update(ref, ref)
        >>> {key: round(float(value), 3) for key, value in metric.compute().items()}
        {'cvvdp': 10.0, 'cvvdp_std': 0.0}
    """

    key = "cvvdp"

    def __init__(
        self,
        display: str = DEFAULT_DISPLAY,
        ppd: float | None = None,
        normalization: HDRNormalization | None = PERCENTILE_1_1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(normalization, **kwargs)
        _photometry(display)  # fail here, not at the first update
        self.display = display
        self.ppd = pixels_per_degree() if ppd is None else float(ppd)

    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        return color_video_vdp(preds, target, self.display, self.ppd, self.normalization)


@lru_cache(maxsize=None)
def _photometry(display: str) -> Any:
    photometry = _pycvvdp().vvdp_display_photometry.load(display, config_paths=[])
    if photometry.is_input_display_encoded():
        raise ValueError(f"display {display!r} expects display-encoded input; choose one with linear input")
    return photometry


@lru_cache(maxsize=None)
def _model(display: str, ppd: float, device: torch.device) -> Any:
    # With a fixed ppd, ColorVideoVDP ignores the resolution of the geometry.
    geometry = _pycvvdp().vvdp_display_geometry(PAPER_RESOLUTION, ppd=ppd)
    return _pycvvdp().cvvdp(display_photometry=_photometry(display), display_geometry=geometry, device=device,
                            quiet=True)


def _pycvvdp() -> ModuleType:
    try:
        import pycvvdp
    except ImportError as err:
        raise ImportError("ColorVideoVDP needs the cvvdp package: pip install 'cvvdp>=0.5.7'") from err
    return pycvvdp
