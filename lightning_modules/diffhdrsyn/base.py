"""What the three training stages share: the generator, optimiser groups, checkpoint hand-off, logging."""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path

import pytorch_lightning as pl
import torch
from torch import nn

from hdrsyn.errors import MissingFileError, UsageError
from hdrsyn.model_registry import nonfinite_tensors, resolve_class
from lightning_modules.diffhdrsyn.model import DEFAULT_GENERATOR, GeneratorConfig, StackGenerator
from lightning_modules.diffhdrsyn.model.compiled_subnets import compile_subnets
from lightning_modules.diffhdrsyn.model.stack_generator import check_margin
from lightning_modules.evaluation import exposure_times, log_run_conventions, log_stack_psnr
from lightning_modules.optim import GCAdam
from lightning_modules.visuals import log_image, stack_grid

#: Sub-network names inside each direction of :class:`StackGenerator`.
SUBNETS = ("global_net", "local_net", "refine_net")
#: Why a stage-1 checkpoint cannot reconstruct HDR images (``{part}``: what it holds).
STAGE_REFUSAL = (
    "a training stage that holds only the {part}; it cannot reconstruct HDR images on its own. "
    "Use a checkpoint of the joint stage (lightning_modules.diffhdrsyn.JointStage, experiments/joint.yaml)"
)
#: Learning-rate schedules of every stage: constant, or cosine decay to 0 over ``trainer.max_steps``.
LR_SCHEDULES = ("constant", "cosine")


def existing_stage_checkpoint(path: str | Path | None, argument: str) -> Path | None:
    """Check, before any training starts, that an earlier stage's checkpoint given as ``argument`` exists."""
    if path is None:
        return None
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(
            f"{argument}={str(path)!r} does not exist; train that stage first "
            f"(see docs/training.md, 'The three stages') or set {argument}: null"
        )
    return path


def load_subnets(
    generator: StackGenerator,
    path: Path,
    subnets: Sequence[str],
    config: GeneratorConfig,
    argument: str = "checkpoint",
    expected_class: type | None = None,
) -> list[str]:
    """Copy the ``subnets`` weights of both directions from a stage checkpoint into ``generator``.

    Returns the loaded parameter names. Raises :class:`~hdrsyn.errors.UsageError` naming ``argument``
    and ``path`` when the file cannot be read, comes from another class than ``expected_class`` (its class
    path resolved by :func:`~hdrsyn.model_registry.resolve_class`, so a checkpoint from before the class
    moved passes), was built with another width, output formulation (``shift_residual``) or, for the global
    nets, ``clip_headroom`` than ``config`` (the generator's; a switch the checkpoint lacks takes its
    :data:`~lightning_modules.diffhdrsyn.model.generator_config.LEGACY_SWITCHES` value), lacks a sub-network
    or holds NaN / Inf weights.
    """
    where = f"{argument}={str(path)!r}"
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - torch.load raises many types for a bad file
        raise UsageError(
            f"{where} cannot be read ({type(error).__name__}: {error}); the file is truncated or not a "
            "checkpoint: copy it again or train that stage again"
        ) from error
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise UsageError(f"{where} is not a Lightning checkpoint (no state_dict)")
    hparams = checkpoint.get("hyper_parameters") or {}
    saved_class = hparams.get("_class_path")
    if expected_class is not None and saved_class is not None and resolve_class(saved_class) is not expected_class:
        raise UsageError(
            f"{where} is a {saved_class.rpartition('.')[2]} checkpoint, but {argument} takes a "
            f"{expected_class.__qualname__} checkpoint (global_ckpt and local_ckpt swapped?)"
        )
    saved_width = hparams.get("width")
    if saved_width is not None and saved_width != config.width:
        raise UsageError(f"{path} was trained with width={saved_width!r}, but this model has width={config.width!r}")
    saved = GeneratorConfig.from_checkpoint(hparams)
    switches = ("shift_residual", "clip_headroom") if "global_net" in subnets else ("shift_residual",)
    for switch in switches:
        if getattr(saved, switch) != getattr(config, switch):
            raise UsageError(f"{where} was trained with {switch}={getattr(saved, switch)}, but this model has "
                             f"{switch}={getattr(config, switch)}; train all stages with the same {switch}")
    prefixes = tuple(f"generator.{d}.{name}." for d in ("up", "down") for name in subnets)
    state = {k[len("generator.") :]: v for k, v in checkpoint["state_dict"].items() if k.startswith(prefixes)}
    if not state:
        raise UsageError(f"{path} holds none of {list(subnets)}; is it a checkpoint of the right stage?")
    own = generator.state_dict()
    for key, value in state.items():
        if key not in own or own[key].shape != value.shape:
            raise UsageError(
                f"{path}: {key} has shape {tuple(value.shape)} but this model expects "
                f"{tuple(own[key].shape) if key in own else 'no such parameter'} (different width or ablation?)"
            )
    damaged = nonfinite_tensors(state)
    if damaged:
        raise UsageError(
            f"{where}: generator.{damaged[0]} holds NaN or Inf (training diverged or the file is damaged); "
            "use an earlier checkpoint"
        )
    generator.load_state_dict(state, strict=False)
    return sorted(state)


class StackStage(pl.LightningModule):
    """Base of :class:`GlobalStage`, :class:`LocalStage` and :class:`JointStage`: the generator's arguments and
    the optimiser's, declared once (each stage forwards them, ``**kwargs``, and the configs list them as its own).

    Holds ``self.generator`` (a :class:`StackGenerator`; identical parameter names in every stage, so
    later stages can take earlier stages' weights), builds gradient-centralised Adam with one parameter
    group per trained sub-network (:meth:`learning_rates`), and logs stack PSNR per relative EV at validation.
    ``self.hparams`` holds the arguments of the stage and of this base.

    Args:
        width: width preset of the generator (``cpu``, ``paper``, ``tiny``).
        num_steps: recursions per direction (3: EV -3..+3).
        use_gru: the ConvGRU bottlenecks of the U-Nets (ablation switch).
        use_cin: step-conditioned instance norm in the decoders (ablation switch).
        shift_residual: each step is a residual on the analytic exposure shift of its input, from a
            zero-initialised head (ours, default); False = the paper's output (see
            :class:`~lightning_modules.diffhdrsyn.StackGenerator`).
        clip_headroom: the stop-down shift takes clipped channels as a learned number of stops above the
            clip (ours, default; needs ``shift_residual``).
        down_context: a global-context block in the stop-down global and refinement nets' bottleneck
            (ours, off by default; :class:`~lightning_modules.diffhdrsyn.model.GeneratorConfig`).
        eval_margin: reflected border (px) the generator adds around the image in eval mode and crops off
            again, so that its zero-padding border band falls outside (ours, default 32; 0 = the paper's
            plain run; :class:`~lightning_modules.diffhdrsyn.StackGenerator`).
        betas: Adam's betas (paper 0.5 / 0.999).
        weight_decay: Adam's weight decay (the authors' 5e-5).
        lr_schedule: ``"constant"`` (paper) or ``"cosine"`` decay to 0 over ``trainer.max_steps`` (else
            ``max_epochs`` times the batches per epoch).
    """

    stage_name = "base"
    #: Generator switches the stage fixes (its other switches come from its hyperparameters).
    fixed_switches: dict[str, bool] = {}

    def __init__(
        self,
        width: str = DEFAULT_GENERATOR.width,
        num_steps: int = DEFAULT_GENERATOR.num_steps,
        use_gru: bool = DEFAULT_GENERATOR.use_gru,
        use_cin: bool = DEFAULT_GENERATOR.use_cin,
        shift_residual: bool = DEFAULT_GENERATOR.shift_residual,
        clip_headroom: bool = DEFAULT_GENERATOR.clip_headroom,
        down_context: bool = DEFAULT_GENERATOR.down_context,
        eval_margin: int = 32,
        betas: tuple[float, float] = (0.5, 0.999),
        weight_decay: float = 5e-5,
        lr_schedule: str = "constant",
    ) -> None:
        super().__init__()
        if lr_schedule not in LR_SCHEDULES:
            raise UsageError(f"lr_schedule must be one of {list(LR_SCHEDULES)}, got {lr_schedule!r}")
        self.save_hyperparameters()  # Lightning reads every __init__ frame of the call: the stage's arguments too
        self.generator = StackGenerator(GeneratorConfig.from_hparams({**self.hparams, **self.fixed_switches}), margin=0)
        try:
            check_margin(eval_margin, self.generator.size_multiple, "eval_margin")
        except ValueError as error:
            raise UsageError(str(error)) from None
        self.generator.margin = eval_margin
        trained = self.learning_rates()
        for name in SUBNETS:  # frozen sub-networks get no gradients (and DDP ignores them)
            for module in self._subnets(name):
                module.requires_grad_(name in trained)

    @abstractmethod
    def learning_rates(self) -> dict[str, float]:
        """The trained sub-networks (names in :data:`SUBNETS`) and their learning rates, from ``self.hparams``."""

    def _subnets(self, name: str) -> Iterable[nn.Module]:
        return [m for m in (getattr(self.generator.up, name), getattr(self.generator.down, name)) if m is not None]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        """Refuse a checkpoint (``--ckpt_path``) whose weights hold NaN or Inf, naming the first such tensor."""
        damaged = nonfinite_tensors(checkpoint["state_dict"])
        if damaged:
            raise UsageError(
                f"the checkpoint to load (--ckpt_path) holds NaN or Inf in {damaged[0]} (training diverged or the "
                "file is damaged); use an earlier checkpoint"
            )

    def setup(self, stage: str) -> None:
        log_run_conventions(self, "DiffHDRsyn", self.stage_name)

    def compile_generator(self, backend: str = "inductor", mode: str | None = None) -> None:
        """``torch.compile`` the generator's U-Nets in place (:func:`~lightning_modules.diffhdrsyn.model.compiled_subnets.
        compile_subnets`; the callback :class:`lightning_modules.compile.CompileGenerator` calls it)."""
        compile_subnets(self.generator, backend, mode)

    def configure_optimizers(self) -> torch.optim.Optimizer | dict:
        """Gradient-centralised Adam, one group per trained sub-network; with ``lr_schedule="cosine"`` each
        group's rate decays from its own value to 0 along a half cosine over the run's optimiser steps
        (``trainer.max_steps``, else ``max_epochs`` times the batches per epoch)."""
        groups = []
        for name, lr in self.learning_rates().items():
            params = [p for module in self._subnets(name) for p in module.parameters()]
            if params:
                groups.append({"params": params, "lr": lr, "name": name})
        optimizer = GCAdam(groups, betas=tuple(self.hparams.betas), weight_decay=self.hparams.weight_decay)
        if self.hparams.lr_schedule == "constant":
            return optimizer
        steps = self.trainer.estimated_stepping_batches  # max_steps, else max_epochs x batches per epoch
        if not math.isfinite(steps) or steps < 1:
            raise UsageError("lr_schedule='cosine' needs trainer.max_steps or trainer.max_epochs (the length "
                             "of the decay)")
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=int(steps))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}

    times = staticmethod(exposure_times)

    def log_stack_psnr(self, prefix: str, pred: torch.Tensor, target: torch.Tensor, ev: torch.Tensor) -> None:
        """PSNR of every generated exposure and their mean (:func:`lightning_modules.evaluation.log_stack_psnr`)."""
        log_stack_psnr(self, prefix, pred, target, ev)

    def log_stack_image(self, key: str, stack: torch.Tensor, target: torch.Tensor | None = None) -> None:
        """Log one stack (and its target underneath) as a picture, on the first validation batch."""
        log_image(self.logger, key, stack_grid(stack, target), self.global_step)
