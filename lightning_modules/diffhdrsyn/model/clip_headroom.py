"""Learned headroom of clipped channels for the stop-down exposure shift (ours; not in the paper)."""

from __future__ import annotations

import math

import torch
from torch import nn


class ClipHeadroom(nn.Module):
    """Raise each clipped channel of an image to the value it is assumed to have had: ``stops`` above the clip.

    A channel at the clip level only says that its radiance is *at least* the clip. The analytic shift takes
    it as exactly the clip, the least it can be, so one stop down every clipped highlight comes out as dim
    as possible, and where one channel is clipped and the others are not, its colour washes out. This
    module assumes instead that a clipped channel lies ``stops`` above the clip, in the linear domain of
    the shift's gamma camera: ``x * 2**(stops * m(x) / gamma)``, where ``m`` ramps from 0 at ``start`` to 1
    at the clip (so that JPEG-softened clips count too). ``stops`` is one learned number per stop-down
    net, fitted by the training loss like every weight and zero at initialisation (the analytic shift). It
    is stored as ``stops / scale`` so that Adam, whose steps are about the learning rate whatever the
    gradient's size, moves it by ``scale`` times the learning rate per step: a fraction of a stop within
    the few hundred steps of the CPU recipe.

    Args:
        start: channel value (in [0, 1]) where the ramp ``m`` starts.
        scale: stops per unit of the stored parameter.
        gamma: exponent of the shift's gamma camera (:func:`ops.exposure.exposure_shift`).

    Example:
        >>> import torch
        >>> headroom = ClipHeadroom()
        >>> x = torch.tensor([0.5, 0.98, 1.0])
        >>> torch.equal(headroom(x), x)  # untrained: the clip is taken at its word
        True
        >>> with torch.no_grad():
        ...     _ = headroom.raw.fill_(1 / 8)  # one stop
        >>> headroom(x).detach()  # a clipped channel one stop up: 2**(1/2.2) in the gamma-encoded domain
        tensor([0.5000, 1.1472, 1.3704])
    """

    def __init__(self, start: float = 0.96, scale: float = 8.0, gamma: float = 2.2) -> None:
        super().__init__()
        if not 0 <= start < 1:
            raise ValueError(f"start must be in [0, 1), got {start}")
        self.start, self.scale, self.gamma = start, scale, gamma
        self.raw = nn.Parameter(torch.zeros(()))

    @property
    def stops(self) -> torch.Tensor:
        """The learned headroom of a clipped channel, in stops above the clip."""
        return self.scale * self.raw

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` (values in [0, 1], any shape) with near-clipped channels raised (values above 1)."""
        ramp = ((image - self.start) / (1 - self.start)).clamp(0, 1)
        return image * torch.exp(self.stops * ramp * (math.log(2) / self.gamma))  # 2**(...); ONNX has no exp2
