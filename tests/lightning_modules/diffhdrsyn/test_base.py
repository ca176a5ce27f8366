"""Stage hand-off and resume: a damaged, swapped or diverged checkpoint is refused, named."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hdrsyn.errors import UsageError
from hdrsyn.model_registry import init_arguments, restore_module
from lightning_modules.diffhdrsyn import GlobalStage, JointStage, LocalStage

GLOBAL = "lightning_modules.diffhdrsyn.GlobalStage"


def saved_stage(path: Path, class_path: str = GLOBAL, nan: bool = False) -> Path:
    """A tiny GlobalStage checkpoint as LightningCLI saves it, claiming ``class_path``."""
    state = GlobalStage(width="tiny").state_dict()
    if nan:
        state["generator.down.global_net.trunk.stem.0.weight"][0] = float("nan")
    hparams = {"_class_path": class_path, "width": "tiny", "shift_residual": True, "clip_headroom": True}
    torch.save({"state_dict": state, "hyper_parameters": hparams}, path)
    return path


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("swapped", "is a LocalStage checkpoint, but global_ckpt takes a GlobalStage checkpoint"),
        ("nan", "generator.down.global_net.trunk.stem.0.weight holds NaN or Inf"),
        ("truncated", "cannot be read .* truncated or not a checkpoint"),
        ("not_a_checkpoint", "is not a Lightning checkpoint"),
    ],
)
def test_bad_global_ckpt_is_named(tmp_path: Path, damage: str, message: str) -> None:
    path = saved_stage(tmp_path / "g.ckpt", "lightning_modules.diffhdrsyn.LocalStage" if damage == "swapped"
                            else GLOBAL, nan=damage == "nan")
    if damage == "truncated":
        path.write_bytes(path.read_bytes()[:-100])
    elif damage == "not_a_checkpoint":
        torch.save([1, 2, 3], path)
    model = JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(path))
    with pytest.raises(UsageError, match=f"global_ckpt='{path}'.*{message}"):
        model.configure_model()


def test_stage_checkpoints_from_before_the_method_folder_hand_off(tmp_path: Path, this_tree_only: None) -> None:
    """A stage checkpoint naming its class by the old module (``lightning_modules.global_stage.GlobalStage``)
    still starts the joint stage; one of the other stage is still refused."""
    path = saved_stage(tmp_path / "g.ckpt", "lightning_modules.global_stage.GlobalStage")
    JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(path)).configure_model()
    swapped = saved_stage(tmp_path / "l.ckpt", "lightning_modules.local_stage.LocalStage")
    with pytest.raises(UsageError, match="is a LocalStage checkpoint, but global_ckpt takes a GlobalStage checkpoint"):
        JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(swapped)).configure_model()


def test_a_good_global_ckpt_loads(tmp_path: Path) -> None:
    path = saved_stage(tmp_path / "g.ckpt")
    model = JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(path))
    model.configure_model()
    saved = torch.load(path, weights_only=False)["state_dict"]
    assert torch.equal(model.state_dict()["generator.up.global_net.trunk.stem.0.weight"],
                       saved["generator.up.global_net.trunk.stem.0.weight"])


@pytest.mark.parametrize(("argument", "value"), [("hdr_smoothness", -5.0), ("hdr_smoothness", float("inf")),
                                                 ("hdr_sampling", "random")])
def test_bad_hdr_layer_arguments_are_refused_when_built(argument: str, value: object) -> None:
    with pytest.raises(UsageError, match=argument):
        JointStage(width="tiny", lambda_cobi=0.0, **{argument: value})


def test_a_checkpoint_with_nan_weights_is_refused_when_loaded() -> None:
    model = GlobalStage(width="tiny")
    state = model.state_dict()
    state["generator.up.global_net.trunk.stem.0.bias"][0] = float("inf")
    with pytest.raises(UsageError, match="--ckpt_path.*NaN or Inf in generator.up.global_net.trunk.stem.0.bias"):
        model.on_load_checkpoint({"state_dict": state})


def test_checkpoint_of_the_other_output_formulation_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "paper.ckpt"
    state = GlobalStage(width="tiny", shift_residual=False, clip_headroom=False).state_dict()
    torch.save({"state_dict": state, "hyper_parameters": {"_class_path": GLOBAL, "width": "tiny"}}, path)
    model = JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(path))
    with pytest.raises(UsageError, match="trained with shift_residual=False, but this model has shift_residual=True"):
        model.configure_model()


def test_global_checkpoint_without_clip_headroom_is_refused(tmp_path: Path) -> None:
    """A global checkpoint saved before ``clip_headroom`` existed has no headroom: it is built without it."""
    path = tmp_path / "legacy.ckpt"
    state = GlobalStage(width="tiny", clip_headroom=False).state_dict()
    hparams = {"_class_path": GLOBAL, "width": "tiny", "shift_residual": True}  # no clip_headroom key
    torch.save({"state_dict": state, "hyper_parameters": hparams}, path)
    model = JointStage(width="tiny", lambda_cobi=0.0, global_ckpt=str(path))
    with pytest.raises(UsageError, match="trained with clip_headroom=False, but this model has clip_headroom=True"):
        model.configure_model()
    JointStage(width="tiny", lambda_cobi=0.0, clip_headroom=False, global_ckpt=str(path)).configure_model()


def test_clip_headroom_without_the_shift_residual_is_refused() -> None:
    with pytest.raises(ValueError, match="clip_headroom=True needs shift_residual=True"):  # the CLI: UsageError
        GlobalStage(width="tiny", shift_residual=False)


def test_an_eval_margin_that_breaks_the_size_multiple_is_refused_by_name() -> None:
    with pytest.raises(UsageError, match="eval_margin must be a non-negative multiple of 16"):
        GlobalStage(width="tiny", eval_margin=10)


def test_cosine_schedule_decays_every_group_to_zero_over_max_steps() -> None:
    """``lr_schedule="cosine"``: lr_k = lr_0 (1 + cos(pi k / max_steps)) / 2, per step, in every group."""
    import math

    import pytorch_lightning as pl

    from datamodules.hdr_stack import HDRStackDataModule
    from datamodules.sample import SampleOptions

    seen: list[float] = []

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer: pl.Trainer, *args: object) -> None:
            seen.append(trainer.optimizers[0].param_groups[0]["lr"])

    module = GlobalStage(width="tiny", lr=1e-3, lr_schedule="cosine")
    trainer = pl.Trainer(max_steps=4, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0, callbacks=[Record()])
    trainer.fit(module, HDRStackDataModule(image_size=32, sample=SampleOptions(views_per_scene=1), num_workers=0))
    assert seen == pytest.approx([1e-3 * (1 + math.cos(math.pi * k / 4)) / 2 for k in range(4)])
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(UsageError, match="lr_schedule must be one of"):
        GlobalStage(width="tiny", lr_schedule="step")


def test_cosine_schedule_spans_max_epochs_without_max_steps() -> None:
    """Bounded by epochs only, the decay spans max_epochs x batches per epoch; an unbounded run is refused."""
    import pytorch_lightning as pl

    from datamodules.hdr_stack import HDRStackDataModule
    from datamodules.sample import SampleOptions

    def fit(**limits: int) -> pl.Trainer:
        trainer = pl.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, limit_val_batches=0, limit_train_batches=3, **limits)
        trainer.fit(GlobalStage(width="tiny", lr=1e-3, lr_schedule="cosine"),
                    HDRStackDataModule(image_size=32, sample=SampleOptions(views_per_scene=1), num_workers=0))
        return trainer

    trainer = fit(max_epochs=2)
    assert trainer.lr_scheduler_configs[0].scheduler.T_max == 6 and trainer.global_step == 6
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(UsageError, match="needs trainer.max_steps or trainer.max_epochs"):
        fit(max_epochs=-1, max_steps=-1, max_time={"seconds": 1})


@pytest.mark.parametrize("cls", [GlobalStage, LocalStage, JointStage])
def test_a_stage_records_the_arguments_it_forwards_to_the_base(cls: type) -> None:
    """The generator's and optimiser's arguments are declared once (StackStage) and forwarded: a stage records
    them among its hyperparameters, and a checkpoint rebuilds it with them."""
    own = {"lambda_cobi": 0.0} if cls is JointStage else {}
    model = cls(width="tiny", num_steps=2, use_gru=False, betas=(0.9, 0.99), eval_margin=16, **own)
    assert set(model.hparams) == set(init_arguments(cls))
    assert (model.hparams.width, model.hparams.use_gru, model.hparams.betas) == ("tiny", False, (0.9, 0.99))
    assert model.generator.num_steps == 2 and model.generator.up.global_net.trunk.gru is None
    assert model.generator.margin == 16 and cls(width="tiny", **own).generator.margin == 32
    rebuilt = restore_module(cls, dict(model.hparams), model.state_dict())
    assert rebuilt.hparams == model.hparams
