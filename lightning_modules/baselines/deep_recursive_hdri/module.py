"""Deep recursive HDRI (Lee et al. 2018) trained and evaluated on our data: the non-differentiable stack method."""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from hdrsyn.model_registry import Reconstructor, register_reconstructor, restore_module
from lightning_modules.baselines.base import HDRBaseline
from lightning_modules.baselines.deep_recursive_hdri.loss import lsgan_loss
from lightning_modules.baselines.deep_recursive_hdri.model import DeepRecursiveHDRI, PatchDiscriminator
from ops.hdr_synthesis import DEFAULT_SAMPLING, DEFAULT_SMOOTHNESS, synthesize_hdr

DIRECTIONS = ("up", "down")


class DeepRecursiveHDRIBaseline(HDRBaseline):
    """Stop-up / stop-down cGANs on ground-truth exposure pairs; Debevec merge of the recursive stack at test.

    Training (manual optimisation, two Adam optimisers): for each direction, all pairs of neighbouring
    ground-truth exposures ``(x_k, x_{k+1})`` (stop-up: EV 0->+1, +1->+2, +2->+3; stop-down likewise)
    form one batch. Discriminator step: ``L_D = (E[(D(x, y) - 1)^2] + E[D(x, G(x))^2]) / 2``; generator
    step: ``L_G = L1(G(x), y) + lambda_adv E[(D(x, G(x)) - 1)^2]`` (paper: L1 + 0.01 LSGAN).
    Evaluation: each generator applied ``num_steps`` times to its own output from the input LDR, then
    :func:`~ops.hdr_synthesis.synthesize_hdr` (Debevec & Malik CRF + merge) without gradient.
    Lightning's ``global_step`` counts both optimisers' steps: two per training iteration.

    Args:
        base_channels: generator width (paper 64; default 16 for CPU budgets).
        levels: generator depth; H, W multiples of ``2**levels`` (pix2pix at 256 px: 8).
        disc_channels: discriminator width (pix2pix 64).
        num_steps: recursions per direction (3: EV -3..+3).
        lambda_adv: weight of the generator's LSGAN term (paper 0.01).
        lr, betas: Adam for both generators and both discriminators (pix2pix: 2e-4, (0.5, 0.999)).
        hdr_sampling, hdr_smoothness: CRF-recovery sampling and lambda of the merge (as :class:`JointStage`).
        **kwargs: the evaluation arguments (``cvvdp``, ``crf_correction``, ``output_dir``) of
            :class:`~lightning_modules.baselines.base.HDRBaseline`.
    """

    def __init__(
        self,
        base_channels: int = 16,
        levels: int = 6,
        disc_channels: int = 16,
        num_steps: int = 3,
        lambda_adv: float = 0.01,
        lr: float = 2e-4,
        betas: tuple[float, float] = (0.5, 0.999),
        hdr_sampling: str = DEFAULT_SAMPLING,
        hdr_smoothness: float = DEFAULT_SMOOTHNESS,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.automatic_optimization = False
        self.generator = DeepRecursiveHDRI(base_channels, levels, num_steps)
        self.discriminators = nn.ModuleDict({d: PatchDiscriminator(disc_channels) for d in DIRECTIONS})

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        betas = tuple(self.hparams.betas)
        return [torch.optim.Adam(self.generator.parameters(), lr=self.hparams.lr, betas=betas),
                torch.optim.Adam(self.discriminators.parameters(), lr=self.hparams.lr, betas=betas)]

    def pairs(self, stack: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """Per direction, ``(inputs, targets)`` ``(B * n, 3, H, W)``: neighbouring exposures from the centre out."""
        n = self.hparams.num_steps
        if stack.shape[1] != 2 * n + 1:
            raise ValueError(f"stack must hold 2*num_steps+1 = {2 * n + 1} exposures, got {stack.shape[1]}")
        up = (stack[:, n : 2 * n], stack[:, n + 1 :])
        down = (stack[:, 1 : n + 1], stack[:, :n])
        return {d: (x.flatten(0, 1), y.flatten(0, 1)) for d, (x, y) in zip(DIRECTIONS, (up, down))}

    def training_step(self, batch: dict, batch_idx: int) -> None:
        opt_g, opt_d = self.optimizers()
        pairs = self.pairs(batch["stack"])
        fakes = {d: getattr(self.generator, d)(x) for d, (x, _) in pairs.items()}

        self.toggle_optimizer(opt_d)
        loss_d = sum(self.discriminator_loss(d, x, y, fakes[d].detach()) for d, (x, y) in pairs.items())
        opt_d.zero_grad()
        self.manual_backward(loss_d)
        opt_d.step()
        self.untoggle_optimizer(opt_d)

        self.toggle_optimizer(opt_g)
        l1 = sum(F.l1_loss(fakes[d], y) for d, (_, y) in pairs.items())
        adv = sum(lsgan_loss(self.discriminators[d](x, fakes[d]), real=True) for d, (x, _) in pairs.items())
        loss_g = l1 + self.hparams.lambda_adv * adv
        opt_g.zero_grad()
        self.manual_backward(loss_g)
        opt_g.step()
        self.untoggle_optimizer(opt_g)

        size = len(batch["ldr"])
        self.log_dict({"train/l1": l1, "train/adv_g": adv, "train/loss_d": loss_d}, batch_size=size)
        self.log("train/loss", loss_g, prog_bar=True, batch_size=size)

    def discriminator_loss(self, direction: str, condition: torch.Tensor, real: torch.Tensor,
                           fake: torch.Tensor) -> torch.Tensor:
        """``(E[(D(x, y) - 1)^2] + E[D(x, G(x))^2]) / 2`` for one direction's discriminator."""
        disc = self.discriminators[direction]
        return (lsgan_loss(disc(condition, real), real=True) + lsgan_loss(disc(condition, fake), real=False)) / 2

    def evaluate(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        stack = self.generator(batch["ldr"]).clamp(0, 1)
        with torch.no_grad():
            radiance, _ = synthesize_hdr(stack.detach(), self.times(batch), self.hparams.hdr_sampling,
                                         smoothness=self.hparams.hdr_smoothness)
        return stack, radiance


@register_reconstructor(DeepRecursiveHDRIBaseline)
def deep_recursive_hdri_reconstructor(hparams: dict, state_dict: dict) -> Reconstructor:
    """The recursive stack generator, merged by Debevec (no learned merge)."""
    module = restore_module(DeepRecursiveHDRIBaseline, hparams, state_dict)
    n = module.hparams.num_steps
    return Reconstructor(module.generator, "stack", 2 ** module.hparams.levels, tuple(float(ev) for ev in range(-n, n + 1)),
                         module.hparams.hdr_sampling, module.hparams.hdr_smoothness)
