"""The reconstructor registry: keyed by class, any class path that reaches a class resolves, the library layer
imports no model."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from hdrsyn import model_registry
from hdrsyn.model_registry import (
    CheckpointError,
    build_reconstructor,
    class_path_of,
    init_defaults,
    registered_classes,
    resolve_class,
)
from lightning_modules.baselines import ExpandNetBaseline
from lightning_modules.diffhdrsyn import GlobalStage, JointStage, LocalStage


def checkpoint(model: torch.nn.Module, class_path: str | None) -> dict:
    hparams = dict(model.hparams) if class_path is None else {"_class_path": class_path, **model.hparams}
    return {"state_dict": model.state_dict(), "hyper_parameters": hparams}


@pytest.mark.parametrize("path", [
    "lightning_modules.baselines.expandnet.ExpandNetBaseline",  # configs and checkpoints before the packages
    "lightning_modules.baselines.ExpandNetBaseline",  # the shortest path (jsonargparse's)
    "lightning_modules.baselines.expandnet.module.ExpandNetBaseline",  # where the class is defined
])
def test_every_path_to_a_class_reaches_its_reconstructor(path: str) -> None:
    assert resolve_class(path) is ExpandNetBaseline
    model = build_reconstructor(checkpoint(ExpandNetBaseline(channels=4), path), Path("x.ckpt"))
    assert model.output == "radiance" and model.class_path == "lightning_modules.baselines.expandnet.ExpandNetBaseline"


def test_class_path_is_the_one_configs_name() -> None:
    assert class_path_of(ExpandNetBaseline) == "lightning_modules.baselines.expandnet.ExpandNetBaseline"
    assert class_path_of(JointStage) == "lightning_modules.diffhdrsyn.JointStage"
    assert {class_path_of(ExpandNetBaseline), class_path_of(JointStage)} <= set(registered_classes())


def test_unknown_classes_are_named_with_the_registered_ones() -> None:
    assert resolve_class("nowhere.Model") is None
    assert resolve_class("lightning_modules.diffhdrsyn.joint_stage.Nothing") is None
    state = {"state_dict": {}, "hyper_parameters": {"_class_path": "nowhere.Model"}}
    with pytest.raises(CheckpointError, match=r"nowhere.Model checkpoint, which has no registered .*JointStage"):
        build_reconstructor(state, Path("x.ckpt"))


@pytest.mark.parametrize(("path", "cls"), [
    ("lightning_modules.joint_stage.JointStage", JointStage),
    ("lightning_modules.global_stage.GlobalStage", GlobalStage),
    ("lightning_modules.local_stage.LocalStage", LocalStage),
])
def test_class_paths_from_before_the_method_folder_reach_the_class(path: str, cls: type, this_tree_only: None) -> None:
    """Checkpoints and packaged models written before ``lightning_modules/diffhdrsyn/`` existed name our stages
    by their old modules: the registry finds the registered class of that name."""
    assert resolve_class(path) is cls
    assert resolve_class(path.replace("lightning_modules.", "elsewhere.")) is None  # only our packages' classes
    module = cls(width="tiny", **({"lambda_cobi": 0.0} if cls is JointStage else {}))
    if cls is JointStage:
        model = build_reconstructor(checkpoint(module, path), Path("x.ckpt"))
        assert model.output == "stack" and model.class_path == "lightning_modules.diffhdrsyn.JointStage"
    else:
        with pytest.raises(CheckpointError, match="training stage"):
            build_reconstructor(checkpoint(module, path), Path("x.ckpt"))


def test_joint_stage_settings_a_checkpoint_lacks_are_its_defaults() -> None:
    """Only the width saved: the other settings are JointStage's defaults, but shift_residual is False (the
    output of checkpoints from before that setting)."""
    torch.manual_seed(0)
    joint = JointStage(width="tiny", shift_residual=False, clip_headroom=False, lambda_cobi=0.0).eval()
    model = build_reconstructor({"state_dict": joint.state_dict(), "hyper_parameters": {
        "_class_path": "lightning_modules.diffhdrsyn.JointStage", "width": "tiny"}}, Path("x.ckpt"))
    defaults = init_defaults(JointStage)
    assert model.evs == tuple(float(ev) for ev in range(-defaults["num_steps"], defaults["num_steps"] + 1))
    assert (model.sampling, model.smoothness) == (defaults["hdr_sampling"], defaults["hdr_smoothness"])
    ldr = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(model.network(ldr), joint.generator(ldr)["stack"], rtol=0, atol=0)


def test_the_registry_imports_no_model() -> None:
    """``hdrsyn.model_registry`` is a library layer below ``lightning_modules``: importing it imports none."""
    code = ("import sys, hdrsyn.model_registry\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('lightning_modules', 'datamodules')))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_model_packages_come_from_the_entry_points_and_the_application(monkeypatch: pytest.MonkeyPatch) -> None:
    """The library names no model package: this distribution lists ``lightning_modules`` in the
    ``hdrsyn.models`` entry points (``pyproject.toml``; reinstall with ``pip install -e .`` if it is missing),
    and an application adds its own with ``register_model_packages``."""
    assert "lightning_modules" in model_registry.model_packages()
    monkeypatch.setattr(model_registry, "_registered_packages", [])
    model_registry.register_model_packages(["elsewhere", "elsewhere"])
    assert model_registry.model_packages()[0] == "elsewhere" and model_registry.model_packages().count("elsewhere") == 1
