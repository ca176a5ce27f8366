"""Global (tone) U-Net of one exposure direction (paper Sec. 3.2, Fig. 3, loss Eq. 4)."""

from __future__ import annotations

import torch
from torch import nn

from lightning_modules.diffhdrsyn.model.clip_headroom import ClipHeadroom
from lightning_modules.diffhdrsyn.model.unet import UNetTrunk
from ops.exposure import exposure_shift


class GlobalUNet(nn.Module):
    """5-level recurrent U-Net mapping an image to the next exposure's global tone.

    Images are in [-1, 1]. Two output formulations:

    - paper (``shift_ev=None``): ``(tanh(head(features)) + input) / 2`` (the authors' residual average);
    - exposure residual (``shift_ev=+-1``): ``clip(shift(input) + head(features), -1, 1)`` where ``shift``
      is the analytic one-stop exposure shift :func:`ops.exposure.exposure_shift` and the head starts at
      zero, so the untrained net already outputs the physically shifted image and training learns only
      what the formula cannot (the camera's real response, clipped highlights and shadows). With
      ``clip_headroom`` (stop-down only) clipped channels enter the shift above the clip by a learned
      number of stops (:class:`~lightning_modules.diffhdrsyn.model.clip_headroom.ClipHeadroom`).

    The ConvGRU hidden state at ``H / 32`` is an explicit input and output so that it
    carries across recursion steps; the decoder's conditional instance norms are keyed by ``style``
    (the recursion step, i.e. the target EV).

    Args:
        base_channels: stem width (paper 32).
        max_channels: channel cap (paper 1024).
        num_styles: number of CIN styles (target-EV steps); None = plain instance norm (CIN ablation).
        use_gru: keep the ConvGRU bottleneck (False = GRU ablation; the hidden state is then always None).
        shift_ev: exposure step of the analytic shift the output is a residual on (+1 stop-up, -1
            stop-down); None = the paper's output.
        clip_headroom: the learned headroom of clipped channels in the shift (needs ``shift_ev < 0``).
        global_context: a :class:`~lightning_modules.diffhdrsyn.model.blocks.GlobalContext` block in the bottleneck.
    """

    levels = 5

    def __init__(
        self,
        base_channels: int = 32,
        max_channels: int = 1024,
        num_styles: int | None = 3,
        use_gru: bool = True,
        shift_ev: float | None = None,
        clip_headroom: bool = False,
        global_context: bool = False,
    ) -> None:
        super().__init__()
        if clip_headroom and not (shift_ev is not None and shift_ev < 0):
            raise ValueError("clip_headroom needs a stop-down exposure residual (shift_ev < 0)")
        self.shift_ev = shift_ev
        self.clip_headroom = ClipHeadroom() if clip_headroom else None
        self.trunk = UNetTrunk(3, base_channels, max_channels, self.levels, num_styles, use_gru, "global net",
                               global_context)
        self.head = nn.Conv2d(self.trunk.out_channels, 3, 3, padding=1)
        if shift_ev is not None:
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)

    def forward(
        self, image: torch.Tensor, style: int | torch.Tensor = 0, hidden: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Map ``image`` ``(B, 3, H, W)`` in [-1, 1] to ``(next_image, hidden)``."""
        features, hidden = self.trunk(image, style, hidden)
        if self.shift_ev is None:
            return (torch.tanh(self.head(features).contiguous()) + image) / 2, hidden
        display = (image + 1) / 2  # the gamma-encoded image in [0, 1], as exposure_shift takes it
        if self.clip_headroom is not None:
            display = self.clip_headroom(display)
        shifted = exposure_shift(display, self.shift_ev) * 2 - 1
        return (shifted + self.head(features).contiguous()).clamp(-1, 1), hidden
