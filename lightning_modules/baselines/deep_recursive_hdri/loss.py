"""Deep recursive HDRI's adversarial loss (Lee et al. 2018): least-squares GAN terms of both players.

Generator: ``L_G = L1(G(x), y) + lambda_adv E[(D(x, G(x)) - 1)^2]``; discriminator:
``L_D = (E[(D(x, y) - 1)^2] + E[D(x, G(x))^2]) / 2``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def lsgan_loss(scores: torch.Tensor, real: bool) -> torch.Tensor:
    """Least-squares GAN loss ``E[(D - 1)^2]`` for real targets, ``E[D^2]`` for fake ones (Mao et al. 2017)."""
    return F.mse_loss(scores, torch.full_like(scores, 1.0 if real else 0.0))
