"""Which checkpoints can reconstruct HDR images, and how: a registry keyed by LightningModule class path.

A checkpoint's class comes from its ``hyper_parameters["_class_path"]`` (written by LightningCLI), else
from the ``model_class`` argument, else from the one registered class whose ``__init__`` arguments match
the saved hyperparameters (what a plain ``Trainer`` writes). The module of a named class is imported
before the registry is consulted, so a class may register itself in its own module.

Registering a model (e.g. a baseline in ``lightning_modules/baselines/expandnet.py``)::

    from hdrsyn.model_registry import Reconstructor, register_reconstructor

    @register_reconstructor("lightning_modules.baselines.expandnet.ExpandNet")
    def expandnet_reconstructor(hparams: dict, state_dict: dict) -> Reconstructor:
        net = ExpandNetwork(...)  # from hparams
        net.load_state_dict(strip_prefix(state_dict, "net."))
        return Reconstructor(net, output="radiance", size_multiple=1)

``state_dict`` is the checkpoint's full LightningModule state dict; the builder keeps what its network
needs. Checkpoints that cannot reconstruct on their own are declared with :func:`refuse_checkpoints`.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from hdrsyn.errors import UsageError
from hdrsyn.networks import GeneratorConfig, StackGenerator

Builder = Callable[[dict[str, Any], dict[str, torch.Tensor]], "Reconstructor"]


class CheckpointError(UsageError):
    """A checkpoint cannot be used for reconstruction; the message names the file and the reason."""


@dataclass
class Reconstructor:
    """A network ready for inference on ``(B, 3, H, W)`` LDR images in [0, 1].

    Args:
        network: eval-mode module; ``output="stack"``: returns ``(B, N, 3, H, W)`` exposures in [0, 1] at
            ``evs``; ``output="radiance"``: returns ``(B, 3, H, W)`` linear radiance.
        output: what ``network`` returns.
        size_multiple: H and W given to ``network`` must be multiples of this.
        evs: exposure value of each stack image (``output="stack"`` only); merged with times ``2**ev``.
        sampling, smoothness: CRF-recovery settings of the merge (see :func:`ops.hdr_synthesis.synthesize_hdr`).
        class_path: the LightningModule class the weights come from.
    """

    network: nn.Module
    output: Literal["stack", "radiance"]
    size_multiple: int = 1
    evs: tuple[float, ...] = ()
    sampling: str = "grossberg"
    smoothness: float = 20.0
    class_path: str = ""

    def __post_init__(self) -> None:
        if self.output not in ("stack", "radiance"):
            raise ValueError(f"output must be 'stack' or 'radiance', got {self.output!r}")
        if (self.output == "stack") != (len(self.evs) >= 2):
            raise ValueError("evs (at least 2) are required for output='stack' and only for it")
        if self.size_multiple < 1:
            raise ValueError(f"size_multiple must be >= 1, got {self.size_multiple}")

    def to(self, device: str | torch.device) -> Reconstructor:
        """Move the network to ``device`` (in place); returns self."""
        self.network.to(device)
        return self


@dataclass(frozen=True)
class _Entry:
    build: Builder | None
    refusal: str = ""


_REGISTRY: dict[str, _Entry] = {}


def register_reconstructor(class_path: str) -> Callable[[Builder], Builder]:
    """Decorator: ``build(hparams, state_dict) -> Reconstructor`` handles checkpoints of ``class_path``."""

    def decorate(build: Builder) -> Builder:
        _REGISTRY[class_path] = _Entry(build)
        return build

    return decorate


def refuse_checkpoints(class_path: str, reason: str) -> None:
    """Make checkpoints of ``class_path`` fail with ``reason`` (e.g. a training stage that is not a full model)."""
    _REGISTRY[class_path] = _Entry(None, reason)


def registered_classes() -> list[str]:
    """Class paths with a reconstructor."""
    return sorted(path for path, entry in _REGISTRY.items() if entry.build is not None)


def _import_module_of(class_path: str) -> None:
    """Import the module defining ``class_path`` (it may register itself there); a missing module is ignored."""
    module = class_path.rpartition(".")[0]
    if not module:
        return
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as error:
        if not error.name or not module.startswith(error.name):  # the module exists but one of its imports failed
            raise


def _init_arguments(class_path: str) -> set[str]:
    module, _, name = class_path.rpartition(".")
    cls = getattr(importlib.import_module(module), name)
    parameters = inspect.signature(cls.__init__).parameters.values()
    return {p.name for p in parameters if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def nonfinite_tensors(state: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors of a state dict that hold NaN or Inf (diverged or damaged weights).

    Example:
        >>> nonfinite_tensors({"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")]), "step": 3})
        ['b']
    """
    return [key for key, value in state.items()
            if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all())]


def checkpoint_class(checkpoint: dict[str, Any], path: Path, model_class: str | None = None) -> str:
    """The LightningModule class path of ``checkpoint`` (see the module docstring)."""
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no hyper_parameters / state_dict)")
    if model_class is not None:
        return model_class
    if "_class_path" in hparams:
        return str(hparams["_class_path"])
    keys = set(hparams)
    matches = [path_ for path_ in _REGISTRY if _init_arguments(path_) == keys]
    if len(matches) != 1:
        found = "several classes match: " + ", ".join(matches) if matches else "no registered class matches"
        raise CheckpointError(
            f"{path} does not name its LightningModule class (no hyper_parameters['_class_path']) and {found} "
            f"its hyperparameters; pass the class path (--model-class), one of {registered_classes()}"
        )
    return matches[0]


#: ``format`` of a packaged model file (:mod:`hdrsyn.pretrained`): tensors and plain values only.
PACKAGED_FORMAT = "hdrsyn-model"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint (a trusted file: it is unpickled) or a packaged model (read with
    ``weights_only=True``; its half-precision weights come back as float32), as a dictionary."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - a Lightning checkpoint holds more than tensors: load it in full
        checkpoint = None
    if isinstance(checkpoint, dict) and checkpoint.get("format") == PACKAGED_FORMAT:
        state = checkpoint.get("state_dict", {})
        checkpoint["state_dict"] = {k: v.float() if torch.is_tensor(v) and v.is_floating_point() else v
                                    for k, v in state.items()}
        return checkpoint
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - torch.load raises many types for a bad file
        raise CheckpointError(f"cannot read checkpoint {path}: {error}") from error
    if not isinstance(checkpoint, dict):
        raise CheckpointError(f"{path} is not a Lightning checkpoint (got a {type(checkpoint).__name__})")
    return checkpoint


def build_reconstructor(checkpoint: dict[str, Any], path: Path, model_class: str | None = None) -> Reconstructor:
    """An eval-mode :class:`Reconstructor` (on the CPU) from ``checkpoint`` (:func:`read_checkpoint`) read
    from ``path``; refuses classes without a reconstructor, training stages and NaN / Inf weights."""
    class_path = checkpoint_class(checkpoint, path, model_class)
    _import_module_of(class_path)
    entry = _REGISTRY.get(class_path)
    if entry is None:
        raise CheckpointError(
            f"{path} is a {class_path} checkpoint, which has no registered reconstructor; "
            f"registered: {registered_classes()} (see hdrsyn.model_registry to add one)"
        )
    if entry.build is None:
        raise CheckpointError(f"{path} is a {class_path} checkpoint: {entry.refusal}")
    damaged = nonfinite_tensors(checkpoint["state_dict"])
    if damaged:
        raise CheckpointError(
            f"{path}: {len(damaged)} weight tensor(s) hold NaN or Inf (first {damaged[0]}); training diverged or "
            "the file is damaged: use an earlier checkpoint"
        )
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    try:
        model = entry.build(hparams, checkpoint["state_dict"])
    except (KeyError, RuntimeError, ValueError) as error:
        raise CheckpointError(f"cannot build a {class_path} from {path}: {error}") from error
    model.class_path = class_path
    model.network.eval()
    return model


def load_reconstructor(
    path: str | Path, device: str | torch.device = "cpu", model_class: str | None = None
) -> Reconstructor:
    """Load a checkpoint or packaged model file as an eval-mode :class:`Reconstructor` on ``device``."""
    path = Path(path)
    return build_reconstructor(read_checkpoint(path), path, model_class).to(device)


def restore_module(cls: type[nn.Module], hparams: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> nn.Module:
    """Rebuild a LightningModule from its saved hyperparameters (those its ``__init__`` takes) and weights."""
    accepted = inspect.signature(cls.__init__).parameters
    module = cls(**{k: v for k, v in hparams.items() if k in accepted})
    module.load_state_dict(state_dict)
    return module


class StackOutput(nn.Module):
    """``generator(ldr)["stack"]``: the exposure stack alone, the traceable form of a :class:`StackGenerator`."""

    def __init__(self, generator: StackGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, ldr: torch.Tensor) -> torch.Tensor:
        return self.generator(ldr)["stack"]


def stack_reconstructor(
    generator: StackGenerator, sampling: str = "grossberg", smoothness: float = 20.0
) -> Reconstructor:
    """A :class:`Reconstructor` around a generator (e.g. ``JointStage.generator``), EV ``-n..+n``."""
    n = generator.num_steps
    return Reconstructor(
        StackOutput(generator), "stack", generator.size_multiple, tuple(float(ev) for ev in range(-n, n + 1)),
        sampling, smoothness,
    )


@register_reconstructor("lightning_modules.joint_stage.JointStage")
def joint_stage_reconstructor(hparams: dict[str, Any], state_dict: dict[str, torch.Tensor]) -> Reconstructor:
    """The joint stage's generator (the paper's full model) followed by the HDR synthesis layer."""
    # checkpoints from before the shift_residual switch have the paper's output
    generator = StackGenerator(GeneratorConfig.from_hparams({"shift_residual": False, **hparams}))
    prefix = "generator."
    generator.load_state_dict({k[len(prefix):]: v for k, v in state_dict.items() if k.startswith(prefix)})
    return stack_reconstructor(generator, hparams.get("hdr_sampling", "grossberg"), hparams.get("hdr_smoothness", 20.0))


_STAGE_REFUSAL = (
    "a training stage that holds only the {part}; it cannot reconstruct HDR images on its own. "
    "Use a checkpoint of the joint stage (lightning_modules.joint_stage.JointStage, experiments/joint.yaml)"
)
refuse_checkpoints("lightning_modules.global_stage.GlobalStage", _STAGE_REFUSAL.format(part="global (tone) networks"))
refuse_checkpoints("lightning_modules.local_stage.LocalStage", _STAGE_REFUSAL.format(part="local (edge) networks"))
