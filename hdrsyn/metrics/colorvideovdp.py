"""ColorVideoVDP (Mantiuk et al. 2024, ``pip install cvvdp``) on normalised HDR image pairs."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import torch
from torch import Tensor

from hdrsyn.metrics.base import PerImageHDRMetric
from hdrsyn.metrics.display import PAPER_RESOLUTION, pixels_per_degree
from hdrsyn.metrics.normalization import PERCENTILE_1_1000, HDRNormalization


class ColorVideoVDP(PerImageHDRMetric):
    """ColorVideoVDP quality in JOD (10 = no visible difference) of display-referred HDR images.

    Pairs are normalised to absolute cd/m² (default: reference 0.1 / 99.9 % luminance percentiles ->
    1..1000 cd/m²) and shown on ``display`` — a ColorVideoVDP photometric model with linear BT.709 input,
    by default ``standard_hdr_linear`` (1500 cd/m² peak, which clips brighter pixels, 10 lux ambient) —
    seen at ``ppd`` pixels per degree, by default the paper's HDR-VDP-2 geometry (24-inch 1920x1200
    display at 0.5 m, ≈ 33.5 ppd). Runs offline on the inputs' device; nothing is downloaded.
    ``compute()`` -> ``{"cvvdp", "cvvdp_std"}``.
    """

    key = "cvvdp"

    def __init__(
        self,
        display: str = "standard_hdr_linear",
        ppd: float | None = None,
        normalization: HDRNormalization | None = PERCENTILE_1_1000,
        **kwargs: Any,
    ) -> None:
        super().__init__(normalization, **kwargs)
        self.photometry = _pycvvdp().vvdp_display_photometry.load(display, config_paths=[])
        if self.photometry.is_input_display_encoded():
            raise ValueError(f"display {display!r} expects display-encoded input; choose one with linear input")
        self.ppd = pixels_per_degree() if ppd is None else ppd
        self._models: dict[torch.device, Any] = {}

    def _model(self, device: torch.device) -> Any:
        if device not in self._models:
            # With a fixed ppd, ColorVideoVDP ignores the resolution of the geometry.
            geometry = _pycvvdp().vvdp_display_geometry(PAPER_RESOLUTION, ppd=self.ppd)
            self._models[device] = _pycvvdp().cvvdp(
                display_photometry=self.photometry, display_geometry=geometry, device=device, quiet=True
            )
        return self._models[device]

    @torch.no_grad()
    def score(self, preds: Tensor, target: Tensor) -> Tensor:
        jod, _ = self._model(preds.device).predict(
            preds.float().unsqueeze(2), target.float().unsqueeze(2), dim_order="BCFHW"
        )
        return jod.to(preds.device, preds.dtype).reshape(-1)


def _pycvvdp() -> ModuleType:
    try:
        import pycvvdp
    except ImportError as err:
        raise ImportError("ColorVideoVDP needs the cvvdp package: pip install 'cvvdp>=0.5.7'") from err
    return pycvvdp
