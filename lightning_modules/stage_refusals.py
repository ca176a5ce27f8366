"""The first two training stages cannot reconstruct HDR images: their checkpoints are refused, saying why.

Registered here rather than at the end of ``global_stage.py`` / ``local_stage.py``; the package's
``__init__`` imports this module, so the refusals are in place whenever either stage's class has been
imported (as resolving a checkpoint's class path does).
"""

from __future__ import annotations

from hdrsyn.model_registry import refuse_checkpoints
from lightning_modules.global_stage import GlobalStage
from lightning_modules.local_stage import LocalStage

STAGE_REFUSAL = (
    "a training stage that holds only the {part}; it cannot reconstruct HDR images on its own. "
    "Use a checkpoint of the joint stage (lightning_modules.joint_stage.JointStage, experiments/joint.yaml)"
)
refuse_checkpoints(GlobalStage, STAGE_REFUSAL.format(part="global (tone) networks"))
refuse_checkpoints(LocalStage, STAGE_REFUSAL.format(part="local (edge) networks"))
