"""The stack generator's switches and their defaults, in one place (:class:`GeneratorConfig`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from lightning_modules.diffhdrsyn.model.widths import GeneratorWidths, get_widths


@dataclass(frozen=True)
class GeneratorConfig:
    """What builds a :class:`~lightning_modules.diffhdrsyn.model.StackGenerator`: width and the ablation switches.

    The stages (``GlobalStage``, ``LocalStage``, ``JointStage``) take these as flat arguments (the config
    keys users type, ``model.init_args.width``...) with these defaults, declared once in their base
    ``StackStage``, which builds one ``GeneratorConfig`` from the stage's hyperparameters
    (:meth:`from_hparams`) for the networks; the checkpoint loaders rebuild it the same way.

    Args:
        width: width preset (``paper``, ``cpu``, ``tiny``) or :class:`GeneratorWidths`.
        num_steps: recursions per direction (3 for EV -3..+3).
        use_refine: keep the refinement nets (False: the global outputs are the stack).
        use_local: keep the local nets, i.e. the global/local decomposition (False: no edge path at all).
        use_gru: keep the ConvGRU bottlenecks (False: no state is carried between steps).
        use_cin: condition decoder norms on the step (False: plain instance norm).
        shift_residual: each step is a residual on the analytic one-stop exposure shift of its input from
            zero-initialised heads, and the refinement nets start as the identity (ours); False: the
            paper's ``(tanh(head) + input) / 2`` from random heads.
        clip_headroom: the stop-down global nets' shift takes clipped channels as a learned number of stops
            above the clip, not at it
            (:class:`~lightning_modules.diffhdrsyn.model.clip_headroom.ClipHeadroom`, ours); needs
            ``shift_residual``.
        down_context: the stop-down global and refinement nets get a
            :class:`~lightning_modules.diffhdrsyn.model.blocks.GlobalContext` block in their bottleneck, so a
            clipped window can borrow from the whole image at any size (ours; #33's highlight research).

    Example:
        >>> config = GeneratorConfig(width="tiny")
        >>> config.replace(use_gru=False).use_gru, config.num_steps
        (False, 3)
        >>> GeneratorConfig.from_hparams({"width": "tiny", "lr": 1e-3, "use_cin": False}).use_cin
        False
    """

    width: str | GeneratorWidths = "cpu"
    num_steps: int = 3
    use_refine: bool = True
    use_local: bool = True
    use_gru: bool = True
    use_cin: bool = True
    shift_residual: bool = True
    clip_headroom: bool = True
    down_context: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.num_steps, int) and self.num_steps >= 1):
            raise ValueError(f"num_steps must be >= 1, got {self.num_steps}")
        get_widths(self.width)  # an unknown preset raises, naming the choices
        if self.clip_headroom and not self.shift_residual:
            raise ValueError("clip_headroom=True needs shift_residual=True (the paper's output has no exposure shift); "
                             "set clip_headroom: false with shift_residual: false")

    def replace(self, **changes: Any) -> GeneratorConfig:
        """A copy with ``changes`` (field names) applied."""
        return replace(self, **changes)

    def as_dict(self) -> dict[str, Any]:
        """The fields as a dictionary (e.g. for hyperparameters)."""
        return asdict(self)

    @classmethod
    def from_hparams(cls, hparams: Mapping[str, Any]) -> GeneratorConfig:
        """The config in a module's saved hyperparameters (other keys are ignored, missing ones default)."""
        return cls(**{f.name: hparams[f.name] for f in fields(cls) if f.name in hparams})

    @classmethod
    def from_checkpoint(cls, hparams: Mapping[str, Any]) -> GeneratorConfig:
        """The config of saved hyperparameters, a switch they lack taking its :data:`LEGACY_SWITCHES` value.

        Example:
            >>> GeneratorConfig.from_checkpoint({"width": "tiny"}).shift_residual  # written before the switch
            False
        """
        return cls.from_hparams(with_legacy_switches(hparams))


def with_legacy_switches(hparams: Mapping[str, Any]) -> dict[str, Any]:
    """Saved hyperparameters with each generator switch they lack set to its :data:`LEGACY_SWITCHES` value
    (their networks were built before the switch existed, without our departure).

    Example:
        >>> with_legacy_switches({"width": "tiny", "clip_headroom": True})
        {'shift_residual': False, 'clip_headroom': True, 'width': 'tiny'}
    """
    return {**LEGACY_SWITCHES, **hparams}


#: The defaults (ours), used by every stage's signature.
DEFAULT_GENERATOR = GeneratorConfig()
#: The value of each switch added after the first checkpoints, for checkpoints saved without it: their
#: networks were built without our departure.
LEGACY_SWITCHES = {"shift_residual": False, "clip_headroom": False}
