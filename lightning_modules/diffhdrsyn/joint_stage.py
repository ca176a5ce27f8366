"""Stage 2: all sub-networks end-to-end through the differentiable HDR synthesis layer (Eq. 4-7)."""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import torch
from pytorch_lightning.utilities import rank_zero_info
from torch import nn

from hdrsyn.errors import UsageError
from hdrsyn.inference import output_paths, reconstruct_image, write_outputs
from hdrsyn.model_registry import Reconstructor, init_defaults, read_checkpoint, register_reconstructor
from hdrsyn.pretrained import pretrained_path
from lightning_modules.diffhdrsyn.base import StackStage, existing_stage_checkpoint, load_subnets
from lightning_modules.diffhdrsyn.global_stage import GlobalStage
from lightning_modules.diffhdrsyn.local_stage import LocalStage
from lightning_modules.diffhdrsyn.loss import HDR_SCALES, JointObjective
from lightning_modules.diffhdrsyn.model import DEFAULT_GENERATOR, GeneratorConfig, StackGenerator
from lightning_modules.diffhdrsyn.model.generator_config import with_legacy_switches
from lightning_modules.evaluation import gather_lists
from lightning_modules.hdr_method import HDRMethod
from losses.cobi import CoBiLoss
from ops.hdr_synthesis import DEFAULT_SAMPLES, DEFAULT_SAMPLING, DEFAULT_SMOOTHNESS, check_smoothness, synthesize_hdr

#: Hyperparameters a packaged joint-stage model keeps (:mod:`hdrsyn.pretrained`): those that build its
#: generator and its HDR merge.
PACKAGED_HPARAMS = (*(f.name for f in fields(GeneratorConfig)), "hdr_sampling", "hdr_smoothness")


class StackOutput(nn.Module):
    """``generator(ldr)["stack"]``: the exposure stack alone, the traceable form of a :class:`StackGenerator`."""

    def __init__(self, generator: StackGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        return self.generator(ldr)["stack"]


def stack_reconstructor(
    generator: StackGenerator, sampling: str = DEFAULT_SAMPLING, smoothness: float = DEFAULT_SMOOTHNESS
) -> Reconstructor:
    """A :class:`~hdrsyn.model_registry.Reconstructor` around a generator (e.g. ``JointStage.generator``),
    EV ``-n..+n``."""
    n = generator.num_steps
    return Reconstructor(
        StackOutput(generator), "stack", generator.size_multiple, tuple(float(ev) for ev in range(-n, n + 1)),
        sampling, smoothness,
    )


class JointStage(HDRMethod, StackStage):
    """The paper's full model trained end-to-end (Sec. 3, Fig. 1).

    The generated stack (EV -3..+3) is merged by :func:`ops.hdr_synthesis.synthesize_hdr` and the
    mu-law HDR loss against the ground truth flows back through the merge into all six sub-networks.
    Loss = Eq. 4 (global) + Eq. 5 (local) + Eq. 6-7 (refinement: L1, HDR, CoBi), each on an
    autoregressive pass and, with ``teacher_forcing``, a teacher-forced pass (the HDR term on the
    autoregressive stack only): :attr:`objective`, a
    :class:`~lightning_modules.diffhdrsyn.loss.JointObjective` built from the ``lambda_*``, ``mu``,
    ``hdr_scale`` and switch arguments.

    Earlier stages' weights come in through ``global_ckpt`` / ``local_ckpt`` (checked at construction,
    loaded in :meth:`configure_model`, before a ``--ckpt_path`` resume would overwrite them).

    Args:
        use_local: the global/local decomposition (False: no local net, no edge input).
        use_refine: the refinement networks.
        use_hdr_layer: train through the HDR synthesis layer (False drops the HDR loss: the ablation
            without the differentiable layer).
        global_ckpt, local_ckpt: checkpoints of :class:`GlobalStage` / :class:`LocalStage` to start from.
        pretrained: a packaged model to start from instead (:mod:`hdrsyn.pretrained`; ``"default"`` = the
            default model), all six networks; its architecture must match. ``lightning predict`` without
            ``--ckpt_path`` sets it to ``"default"`` (see :class:`hdrsyn.cli.lightning.HDRSynCLI`).
        lambda_l1, lambda_hist, lambda_edge, lambda_refine, lambda_hdr, lambda_cobi: lambda1..lambda6 of
            Eq. 4-7 (paper: 1, 0.1, 1, 1, 1, 0.1).
        mu: mu-law compression of the HDR loss (paper 5000; the authors' code 100).
        vgg_weights: local torchvision VGG-19 state dict for CoBi (required when ``lambda_cobi > 0``).
        cobi_spatial_weight, cobi_bandwidth: CoBi's ws and h (paper 0.1 / 0.5; the authors' code swaps them).
        hdr_sampling, hdr_smoothness: CRF-recovery sampling and lambda of the HDR layer.
        hdr_scale: how the synthesised HDR's global scale meets the ground truth's in the HDR loss.
            ``"log_mean"`` (default) multiplies it by a detached factor matching the mean log radiance
            of the ground truth, since a merge from relative exposure times fixes radiance only up to
            a scale; ``"crf_max"`` uses the layer's own scale (``f^-1(1) = 1``, as the authors' code),
            which drifts when a generated stack has no saturated pixel (g(255) is then extrapolated).
        lambda_clipped: weight of the clipped-region HDR term (:func:`~losses.hdr.clipped_hdr_loss`: stops of
            error inside the input's clipped pixels; our addition to Eq. 7); 0: off.
        teacher_forcing: add the teacher-forced pass.
        lr: one learning rate for the global and local nets, overriding ``lr_global`` / ``lr_local`` (the
            name the earlier stages use, so that one overlay sets all three stages).
        lr_global, lr_local, lr_refine: learning rate per sub-network (paper 1e-4; the authors' code uses
            1e-5 for the refinement nets).
        cvvdp: score ColorVideoVDP at test (``test/cvvdp``); None: when the ``cvvdp`` package is installed.
        crf_correction: also report the CRF-corrected test scores (``test/crf/<key>``).
        output_dir: where ``test`` writes HDR images, previews, stack sheets, ``metrics_per_image.csv`` and
            ``summary.json`` (default ``<default_root_dir>/test``).
        **kwargs: the generator's and the optimiser's arguments (``width``, ``num_steps``, ``use_gru``,
            ``use_cin``, ``shift_residual``, ``betas``, ``weight_decay``, ``lr_schedule``) of
            :class:`~lightning_modules.diffhdrsyn.base.StackStage`.

    Validation and test are those of every HDR method (:class:`~lightning_modules.hdr_method.HDRMethod`),
    plus ``val/loss_hdr``.
    """

    stage_name = "joint"

    def __init__(
        self,
        use_local: bool = DEFAULT_GENERATOR.use_local,
        use_refine: bool = DEFAULT_GENERATOR.use_refine,
        use_hdr_layer: bool = True,
        global_ckpt: str | None = None,
        local_ckpt: str | None = None,
        pretrained: str | None = None,
        lambda_l1: float = 1.0,
        lambda_hist: float = 0.1,
        lambda_edge: float = 1.0,
        lambda_refine: float = 1.0,
        lambda_hdr: float = 1.0,
        lambda_cobi: float = 0.1,
        mu: float = 5000.0,
        vgg_weights: str | None = None,
        cobi_spatial_weight: float = 0.1,
        cobi_bandwidth: float = 0.5,
        hdr_sampling: str = DEFAULT_SAMPLING,
        hdr_smoothness: float = DEFAULT_SMOOTHNESS,
        hdr_scale: str = "log_mean",
        lambda_clipped: float = 0.0,
        teacher_forcing: bool = True,
        lr: float | None = None,
        lr_global: float = 1e-4,
        lr_local: float = 1e-4,
        lr_refine: float = 1e-4,
        cvvdp: bool | None = None,
        crf_correction: bool = True,
        output_dir: str | None = None,
        **kwargs: Any,
    ) -> None:
        if hdr_scale not in HDR_SCALES:
            raise UsageError(f"hdr_scale must be 'log_mean' or 'crf_max', got {hdr_scale!r}")
        if hdr_sampling not in DEFAULT_SAMPLES:
            raise UsageError(f"hdr_sampling must be one of {list(DEFAULT_SAMPLES)}, got {hdr_sampling!r}")
        try:
            check_smoothness(hdr_smoothness)
        except ValueError as error:
            raise UsageError(f"hdr_{error}") from None
        super().__init__(**kwargs)
        self.global_ckpt = existing_stage_checkpoint(global_ckpt, "global_ckpt")
        self.local_ckpt = existing_stage_checkpoint(local_ckpt, "local_ckpt")
        self.pretrained = None
        if pretrained is not None:
            if global_ckpt is not None or local_ckpt is not None:
                raise UsageError("pretrained and global_ckpt / local_ckpt both give the starting weights; set "
                                 "global_ckpt: null and local_ckpt: null, or pretrained: null")
            self.pretrained = pretrained_path(None if pretrained == "default" else pretrained)
        if self.local_ckpt is not None and not use_local:
            raise UsageError("local_ckpt is given but use_local=False: the model has no local networks")
        self.cobi = None
        if lambda_cobi > 0 and use_refine:
            self.cobi = CoBiLoss(vgg_weights, spatial_weight=cobi_spatial_weight, bandwidth=cobi_bandwidth)
        self.objective = JointObjective(
            self.synthesize, self.cobi, lambda_l1, lambda_hist, lambda_edge, lambda_refine, lambda_hdr,
            lambda_cobi, mu, use_refine, use_hdr_layer, hdr_scale, lambda_clipped,
        )
        self._stage_weights_loaded = False
        self.configure_evaluation(cvvdp, crf_correction, output_dir)

    def learning_rates(self) -> dict[str, float]:
        """The global net's, the local net's (``use_local``) and the refinement net's (``use_refine``); ``lr``,
        when set, is the global and local nets'."""
        hp = self.hparams
        rates = {"global_net": hp.lr_global if hp.lr is None else hp.lr}
        if hp.use_local:
            rates["local_net"] = hp.lr_local if hp.lr is None else hp.lr
        if hp.use_refine:
            rates["refine_net"] = hp.lr_refine
        return rates

    def configure_model(self) -> None:
        """Load the earlier stages' sub-networks, or the packaged model, once (a ``--ckpt_path`` then
        overrides them)."""
        if self._stage_weights_loaded:
            return
        if self.pretrained is not None:
            self.load_packaged(self.pretrained)
        sources = (("global_ckpt", "global_net", GlobalStage), ("local_ckpt", "local_net", LocalStage))
        for argument, subnet, stage in sources:
            path = getattr(self, argument)
            if path is not None:
                names = load_subnets(self.generator, path, [subnet], self.generator.config, argument, stage)
                rank_zero_info(f"JointStage: loaded {len(names)} {subnet} tensors from {path}")
        self._stage_weights_loaded = True

    def load_packaged(self, path: Path) -> None:
        """Copy a packaged model's generator weights (:mod:`hdrsyn.pretrained`) into this model."""
        packaged = read_checkpoint(path)
        saved = with_legacy_switches(packaged["hyper_parameters"])
        differ = {k: (saved[k], self.hparams[k])
                  for k in PACKAGED_HPARAMS if k in saved and saved[k] != self.hparams[k]}
        if differ:
            raise UsageError(f"pretrained={str(path)!r} was built with " + ", ".join(
                f"{k}={a!r}" for k, (a, _) in differ.items()) + "; this model has " + ", ".join(
                f"{k}={b!r}" for k, (_, b) in differ.items()) + ": set the same in model.init_args")
        prefix = "generator."
        self.generator.load_state_dict({k[len(prefix):]: v for k, v in packaged["state_dict"].items()})
        rank_zero_info(f"JointStage: loaded the packaged model {path}")

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        """Leave the frozen VGG-19 out of checkpoints: it is loaded from ``vgg_weights``."""
        checkpoint["state_dict"] = {k: v for k, v in checkpoint["state_dict"].items() if not k.startswith("cobi.")}

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        super().on_load_checkpoint(checkpoint)
        if self.cobi is not None:
            checkpoint["state_dict"].update({f"cobi.{k}": v for k, v in self.cobi.state_dict().items()})

    def losses(self, out: dict[str, torch.Tensor], batch: dict, teacher: bool) -> dict[str, torch.Tensor]:
        """Eq. 4-7 (:attr:`objective`) on the generator's output ``out`` of one pass (``teacher``: the
        teacher-forced pass); the HDR term only on the autoregressive pass."""
        return self.objective(out, batch, teacher)

    def synthesize(self, stack: torch.Tensor, batch: dict) -> torch.Tensor:
        """HDR radiance ``(B, 3, H, W)`` of a generated stack through the differentiable layer."""
        radiance, _ = synthesize_hdr(stack, self.times(batch), self.hparams.hdr_sampling,
                                     smoothness=self.hparams.hdr_smoothness)
        return radiance

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        if self.hparams.teacher_forcing:  # step 0 is shared by both passes
            autoregressive, teacher = self.generator.forward_pair(batch["ldr"], batch["stack"])
            parts = self.losses(autoregressive, batch, teacher=False)
            loss = parts["total"] + self.losses(teacher, batch, teacher=True)["total"]
        else:
            parts = self.losses(self.generator(batch["ldr"]), batch, teacher=False)
            loss = parts["total"]
        size = len(batch["ldr"])
        self.log_dict({f"train/{k}": v for k, v in parts.items() if k != "total"}, batch_size=size)
        self.log("train/loss", loss, prog_bar=True, batch_size=size)
        return loss

    def evaluate(self, batch: dict) -> tuple[torch.Tensor, torch.Tensor]:
        """Autoregressive stack and its HDR: ``(stack, radiance)``."""
        stack = self.generator(batch["ldr"])["stack"]
        return stack, self.synthesize(stack, batch)

    def validation_extras(self, batch: dict, stack: torch.Tensor | None, radiance: torch.Tensor) -> dict:
        """The HDR loss (at the loss's scale, :meth:`JointObjective.scaled`) as ``val/loss_hdr``."""
        return {"val/loss_hdr": self.objective.hdr_term(radiance, batch["hdr"])}

    def predict_step(self, batch: dict, batch_idx: int) -> list[dict[str, torch.Tensor]]:
        """Reconstruct each ``batch["ldr"]`` image (:func:`hdrsyn.inference.reconstruct_image`); with
        ``output_dir`` set, also write its files to ``<output_dir>/predict`` (under DDP, rank 0 writes all)."""
        model = stack_reconstructor(self.generator, self.hparams.hdr_sampling, self.hparams.hdr_smoothness)
        results = [{k: v.cpu() for k, v in reconstruct_image(model, ldr).items()} for ldr in batch["ldr"]]
        if self.hparams.output_dir is not None:
            items = gather_lists(list(zip(map(str, batch["name"]), results)))  # every rank's, to rank 0
            if self.trainer.global_rank == 0:
                for name, result in items:
                    stem = name.replace("/", "_")
                    paths = output_paths(stem, Path(self.hparams.output_dir) / "predict", model)
                    write_outputs(result, paths, overwrite=True)
        return results


@register_reconstructor(JointStage, packaged_hparams=PACKAGED_HPARAMS)
def joint_stage_reconstructor(hparams: dict, state_dict: dict[str, torch.Tensor]) -> Reconstructor:
    """The joint stage's generator (the paper's full model) followed by the HDR synthesis layer.

    A setting the checkpoint lacks takes :class:`JointStage`'s default, except the generator switches of
    :data:`~lightning_modules.diffhdrsyn.model.generator_config.LEGACY_SWITCHES` (``shift_residual``,
    ``clip_headroom``): their value in checkpoints from before the switch.
    """
    settings = {**init_defaults(JointStage), **with_legacy_switches(hparams)}
    generator = StackGenerator(GeneratorConfig.from_hparams(settings))
    prefix = "generator."
    generator.load_state_dict({k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)})
    return stack_reconstructor(generator, settings["hdr_sampling"], settings["hdr_smoothness"])
