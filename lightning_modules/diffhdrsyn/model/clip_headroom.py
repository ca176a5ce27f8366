"""Learned headroom of clipped channels for the stop-down exposure shift (ours; not in the paper)."""

from __future__ import annotations

import math

import torch
from torch import nn


class ClipHeadroom(nn.Module):
    """Raise each clipped channel of an image to the value it is assumed to have had: stops above the clip.

    A channel at the clip level only says that its radiance is *at least* the clip. The analytic shift takes
    it as exactly the clip, the least it can be, so one stop down every clipped highlight comes out as dim
    as possible, and where one channel is clipped and the others are not, its colour washes out. This
    module assumes instead that a clipped channel lies above the clip, in the linear domain of the shift's
    gamma camera: ``x_c * 2**((stops * m(x_c) + white_stops * min_k m(x_k)) / gamma)``, where ``m`` ramps
    from 0 at ``start`` to 1 at the clip (so that JPEG-softened clips count too). Two learned numbers per
    stop-down net, fitted by the training loss like every weight and zero at initialisation (the analytic
    shift):

    - ``stops``, the headroom of every clipped channel (it restores the colour of pixels clipped in one or
      two channels);
    - ``white_stops``, more headroom where all three channels are clipped, for the whole pixel. Such
      pixels (suns, lamps, white skies) lie further above the clip than those still coloured; with one
      number for both, the headroom of the white ones over-raised the partly clipped ones at the edge of a
      highlight, a cyan / magenta band around skies that clip channel by channel.

    Each is stored divided by ``scale`` so that Adam, whose steps are about the learning rate whatever the
    gradient's size, moves it by ``scale`` times the learning rate per step: a fraction of a stop within
    the few hundred steps of the CPU recipe. Checkpoints saved before ``white_stops`` existed load with it
    at zero, i.e. as they were trained.

    Args:
        start: channel value (in [0, 1]) where the ramp ``m`` starts.
        scale: stops per unit of the stored parameters.
        gamma: exponent of the shift's gamma camera (:func:`ops.exposure.exposure_shift`).

    Example:
        >>> import torch
        >>> headroom = ClipHeadroom()
        >>> x = torch.tensor([[0.5, 1.0], [1.0, 1.0], [0.5, 1.0]]).view(3, 1, 2)  # (C, H, W): 2 pixels
        >>> torch.equal(headroom(x), x)  # untrained: the clip is taken at its word
        True
        >>> with torch.no_grad():
        ...     _ = headroom.raw.fill_(1 / 8)  # clipped channels one stop up
        ...     _ = headroom.raw_white.fill_(1 / 8)  # white pixels one stop more
        >>> headroom(x).detach().view(3, 2)  # 2**(1/2.2), 2**(2/2.2): 1 and 2 stops in the gamma-encoded domain
        tensor([[0.5000, 1.8779],
                [1.3704, 1.8779],
                [0.5000, 1.8779]])
    """

    def __init__(self, start: float = 0.96, scale: float = 8.0, gamma: float = 2.2) -> None:
        super().__init__()
        if not 0 <= start < 1:
            raise ValueError(f"start must be in [0, 1), got {start}")
        self.start, self.scale, self.gamma = start, scale, gamma
        self.raw = nn.Parameter(torch.zeros(()))
        self.raw_white = nn.Parameter(torch.zeros(()))

    @property
    def stops(self) -> torch.Tensor:
        """The learned headroom of a clipped channel, in stops above the clip."""
        return self.scale * self.raw

    @property
    def white_stops(self) -> torch.Tensor:
        """The learned headroom added where all channels are clipped, in stops."""
        return self.scale * self.raw_white

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """``image`` ``(..., C, H, W)`` (values in [0, 1]) with near-clipped channels raised (values above 1)."""
        if image.dim() < 3:
            raise ValueError(f"image must be (..., C, H, W), got shape {tuple(image.shape)}")
        ramp = ((image - self.start) / (1 - self.start)).clamp(0, 1)
        stops = self.stops * ramp + self.white_stops * ramp.amin(dim=-3, keepdim=True)
        return image * torch.exp(stops * (math.log(2) / self.gamma))  # 2**(...); ONNX has no exp2

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:  # noqa: ANN002, ANN003
        if prefix + "raw" in state_dict and prefix + "raw_white" not in state_dict:  # saved before white_stops
            state_dict[prefix + "raw_white"] = torch.zeros_like(state_dict[prefix + "raw"])
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
