"""Which checkpoints can reconstruct HDR images, and how: a registry keyed by LightningModule class.

A model registers itself in the module that defines its LightningModule; this library layer never
imports those modules itself, and names no model::

    from hdrsyn.model_registry import Reconstructor, register_reconstructor, restore_module

    class ExpandNetBaseline(HDRBaseline): ...

    @register_reconstructor(ExpandNetBaseline)
    def expandnet_reconstructor(hparams: dict, state_dict: dict) -> Reconstructor:
        net = restore_module(ExpandNetBaseline, hparams, state_dict).net
        return Reconstructor(net, output="radiance", size_multiple=1)

``state_dict`` is the checkpoint's full LightningModule state dict; the builder keeps what its network
needs. Checkpoints that cannot reconstruct on their own are declared with :func:`refuse_checkpoints`; a
model whose checkpoints can be packaged (:mod:`hdrsyn.pretrained`) names the hyperparameters a packaged
file keeps (``register_reconstructor(cls, packaged_hparams=...)``).

Loading a checkpoint resolves its class once: the class path in ``hyper_parameters["_class_path"]``
(written by LightningCLI) or the ``model_class`` argument is imported (its module, then the attribute),
which registers the class; any path that reaches the class works, so the class paths of older
checkpoints keep loading where a package re-exports the class, and a path into one of the
:func:`model_packages` whose module is gone (the class has moved) names the registered class of that name.
Without a class path, the class is the one registered class whose ``__init__`` arguments match the saved
hyperparameters (what a plain ``Trainer`` writes), after importing every module of the :func:`model_packages`.

The model packages are named from above, never here: an installed distribution lists its own in the entry
point group :data:`MODEL_ENTRY_POINTS` (ours in ``pyproject.toml``), and an application may add more with
:func:`register_model_packages` (the command line does).
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Literal, TypeVar

import torch
from torch import nn

from hdrsyn.errors import UsageError
from ops.crf import DEFAULT_SMOOTHNESS
from ops.hdr_synthesis import DEFAULT_SAMPLING

Builder = Callable[[dict[str, Any], dict[str, torch.Tensor]], "Reconstructor"]
B = TypeVar("B", bound=Builder)

#: Entry point group of the packages whose modules define models: an entry ``name = "package"`` of an
#: installed distribution (``[project.entry-points."hdrsyn.models"]`` in its ``pyproject.toml``).
MODEL_ENTRY_POINTS = "hdrsyn.models"
_registered_packages: list[str] = []


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
        packaged_hparams: the hyperparameters a packaged model of that class keeps, with ``network``'s
            weights (:func:`register_reconstructor`); empty: the class is not packaged.
    """

    network: nn.Module
    output: Literal["stack", "radiance"]
    size_multiple: int = 1
    evs: tuple[float, ...] = ()
    sampling: str = DEFAULT_SAMPLING
    smoothness: float = DEFAULT_SMOOTHNESS
    class_path: str = ""
    packaged_hparams: tuple[str, ...] = ()

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
    packaged_hparams: tuple[str, ...] = ()


_REGISTRY: dict[type, _Entry] = {}


def register_reconstructor(cls: type, packaged_hparams: Sequence[str] = ()) -> Callable[[B], B]:
    """Decorator: ``build(hparams, state_dict) -> Reconstructor`` handles checkpoints of the LightningModule ``cls``.

    ``packaged_hparams``: the hyperparameters a packaged model of ``cls`` keeps (:mod:`hdrsyn.pretrained`);
    ``build`` must then also accept them with the state dict of the network it returns (what the packaged
    file holds). Empty: checkpoints of ``cls`` are not packaged.
    """

    def decorate(build: B) -> B:
        _REGISTRY[cls] = _Entry(build, packaged_hparams=tuple(packaged_hparams))
        return build

    return decorate


def refuse_checkpoints(cls: type, reason: str) -> None:
    """Make checkpoints of ``cls`` fail with ``reason`` (e.g. a training stage that is not a full model)."""
    _REGISTRY[cls] = _Entry(None, reason)


def class_path_of(cls: type) -> str:
    """``module.QualifiedName`` of ``cls``: the path a config or checkpoint names it by."""
    return f"{cls.__module__}.{cls.__qualname__}"


def registered_classes() -> list[str]:
    """Class paths with a reconstructor."""
    return sorted(class_path_of(cls) for cls, entry in _REGISTRY.items() if entry.build is not None)


def register_model_packages(names: Iterable[str]) -> None:
    """Add the packages ``names`` (importable names, e.g. ``("lightning_modules",)``) to :func:`model_packages`."""
    for name in names:
        if name not in _registered_packages:
            _registered_packages.append(name)


def model_packages() -> tuple[str, ...]:
    """Packages whose modules define the registered models: those of :func:`register_model_packages`, then those
    of the :data:`MODEL_ENTRY_POINTS` entry points. Imported, every module, only to identify a checkpoint that
    does not name its class or names a moved one (they lie above this layer, so never imported otherwise)."""
    advertised = [entry.module for entry in entry_points(group=MODEL_ENTRY_POINTS)]
    return tuple(dict.fromkeys([*_registered_packages, *advertised]))


def resolve_class(path: str) -> type | None:
    """The class ``path`` names (its module imported: a model registers itself there); None if there is none.

    A path into one of the :func:`model_packages` whose module does not exist (written before its class moved, e.g.
    ``lightning_modules.joint_stage.JointStage``) names the one registered class of that name. A module
    that exists but fails to import raises.
    """
    module_name, _, name = path.rpartition(".")
    if not module_name:
        return None
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        missing = error.name or ""
        if missing and (module_name == missing or module_name.startswith(missing + ".")):
            return _moved_class(module_name, name)
        raise
    cls = getattr(module, name, None)
    return cls if isinstance(cls, type) else None


def _moved_class(module_name: str, name: str) -> type | None:
    """The one registered class called ``name`` if ``module_name`` lies in one of the :func:`model_packages`;
    else None."""
    if not any(module_name.startswith(f"{package}.") for package in model_packages()):
        return None
    _import_model_packages()
    found = [cls for cls in _REGISTRY if cls.__qualname__ == name]
    return found[0] if len(found) == 1 else None


def init_arguments(cls: type) -> dict[str, inspect.Parameter]:
    """The named ``__init__`` arguments of ``cls`` (not ``self``, ``*args``, ``**kwargs``): its own and, while an
    ``__init__`` takes ``**kwargs`` (forwarded to ``super().__init__``, as jsonargparse reads it), those of the
    next ``__init__`` along the MRO.

    Example:
        >>> class Base:
        ...     def __init__(self, width: str = "cpu") -> None: ...
        >>> class Stage(Base):
        ...     def __init__(self, lr: float = 1e-4, **kwargs) -> None: super().__init__(**kwargs)
        >>> list(init_arguments(Stage))
        ['lr', 'width']
    """
    arguments: dict[str, inspect.Parameter] = {}
    for owner in cls.__mro__:
        if "__init__" not in vars(owner):
            continue
        parameters = inspect.signature(owner.__init__).parameters.values()
        for p in parameters:
            if p.name != "self" and p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                arguments.setdefault(p.name, p)
        if not any(p.kind is p.VAR_KEYWORD for p in parameters):
            break
    return arguments


def init_defaults(cls: type) -> dict[str, Any]:
    """The default values of ``cls``'s ``__init__`` arguments, by name (those without one left out)."""
    return {name: p.default for name, p in init_arguments(cls).items() if p.default is not p.empty}


def _import_model_packages() -> None:
    """Import every module of the :func:`model_packages`, so that all models are registered."""
    for name in model_packages():
        try:
            package = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # the package exists but one of its imports failed
                raise
            continue
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(module.name)


def nonfinite_tensors(state: Mapping[str, Any]) -> list[str]:
    """Names of the floating-point tensors of a state dict that hold NaN or Inf (diverged or damaged weights).

    Example:
        >>> nonfinite_tensors({"a": torch.ones(2), "b": torch.tensor([1.0, float("nan")]), "step": 3})
        ['b']
    """
    return [key for key, value in state.items()
            if torch.is_tensor(value) and value.is_floating_point() and not bool(torch.isfinite(value).all())]


def checkpoint_class(checkpoint: dict[str, Any], path: Path, model_class: str | None = None
                     ) -> tuple[type | None, str]:
    """The LightningModule class of ``checkpoint`` (None: its class path names no class) and the class path
    that names it (see the module docstring)."""
    hparams = checkpoint.get("hyper_parameters")
    if not isinstance(hparams, dict) or not isinstance(checkpoint.get("state_dict"), dict):
        raise CheckpointError(f"{path} is not a Lightning checkpoint (no hyper_parameters / state_dict)")
    if model_class is None and "_class_path" in hparams:
        model_class = str(hparams["_class_path"])
    if model_class is not None:
        return resolve_class(model_class), model_class
    _import_model_packages()
    keys = set(hparams)
    matches = [cls for cls in _REGISTRY if set(init_arguments(cls)) == keys]
    if len(matches) != 1:
        names = ", ".join(sorted(map(class_path_of, matches)))
        found = f"several classes match: {names}" if matches else "no registered class matches"
        raise CheckpointError(
            f"{path} does not name its LightningModule class (no hyper_parameters['_class_path']) and {found} "
            f"its hyperparameters; pass the class path (--model-class), one of {registered_classes()}"
        )
    return matches[0], class_path_of(matches[0])


#: ``format`` of a packaged model file (:mod:`hdrsyn.pretrained`): tensors and plain values only.
PACKAGED_FORMAT = "hdrsyn-model"


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """A Lightning checkpoint (a trusted file: it is unpickled) or a packaged model (read with
    ``weights_only=True``; its half-precision weights come back as float32), as a dictionary."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a folder; pass a checkpoint file (e.g. {path / 'last.ckpt'})")
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
    if isinstance(checkpoint, dict):  # a checkpoint of plain values only: already read in full
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
    cls, named = checkpoint_class(checkpoint, path, model_class)
    entry = _REGISTRY.get(cls) if cls is not None else None
    if entry is None:
        _import_model_packages()  # to list every registered class
        raise CheckpointError(
            f"{path} is a {named} checkpoint, which has no registered reconstructor; "
            f"registered: {registered_classes()} (see hdrsyn.model_registry to add one)"
        )
    if entry.build is None:
        raise CheckpointError(f"{path} is a {named} checkpoint: {entry.refusal}")
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
        raise CheckpointError(f"cannot build a {named} from {path}: {error}") from error
    model.class_path = class_path_of(cls)
    model.packaged_hparams = entry.packaged_hparams
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
    accepted = init_arguments(cls)
    module = cls(**{k: v for k, v in hparams.items() if k in accepted})
    module.load_state_dict(state_dict)
    return module
