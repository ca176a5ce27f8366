"""Ours: the paper's method (Kim, Lee, Kang, AAAI 2021), trained in three stages.

Part of ``lightning_modules`` (layer 5), one folder as each baseline's: the stack generator, plain torch
on ``ops`` (:mod:`.model`: :class:`StackGenerator` built from one :class:`GeneratorConfig`), its
objectives Eq. 4-7 assembled from the terms in ``losses`` (:mod:`.loss`), and its LightningModules: the
stages :class:`GlobalStage` (Eq. 4), :class:`LocalStage` (Eq. 5) and :class:`JointStage` (Eq. 4-7, through
the HDR synthesis layer), on :class:`StackStage` (:mod:`.base`). :mod:`.joint_stage` registers how a
joint-stage checkpoint reconstructs HDR images, the stage modules that a stage-1 checkpoint cannot.

``lightning_modules.diffhdrsyn.<Stage>`` is the class path configs and checkpoints use, its module where
it is defined a detail. Checkpoints and packaged models written before this folder existed name
``lightning_modules.joint_stage.JointStage`` (and ``global_stage.GlobalStage``, ``local_stage.LocalStage``);
the model registry still finds their class (:func:`hdrsyn.model_registry.resolve_class`).
"""

from lightning_modules.diffhdrsyn.base import StackStage
from lightning_modules.diffhdrsyn.global_stage import GlobalStage
from lightning_modules.diffhdrsyn.joint_stage import JointStage, StackOutput, stack_reconstructor
from lightning_modules.diffhdrsyn.local_stage import LocalStage
from lightning_modules.diffhdrsyn.model import DEFAULT_GENERATOR, GeneratorConfig, StackGenerator

for _stage in (GlobalStage, LocalStage, JointStage):
    _stage.__module__ = __name__  # the class path written into configs and checkpoints

__all__ = [
    "DEFAULT_GENERATOR",
    "GeneratorConfig",
    "GlobalStage",
    "JointStage",
    "LocalStage",
    "StackGenerator",
    "StackOutput",
    "StackStage",
    "stack_reconstructor",
]
