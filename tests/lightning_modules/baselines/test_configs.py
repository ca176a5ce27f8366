"""Every baseline and ablation config parses through ``lightning fit --print_config``; the ablation rungs
differ by one component each and train a step; a reference runs through ``lightning test``; the CPU recipe
is typed once."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest
import torch
import torchvision
import yaml
from jsonargparse import dict_to_namespace, namespace_to_dict

from hdrsyn.cli import lightning_main
from hdrsyn.cli.lightning import HDRSynCLI
from lightning_modules.diffhdrsyn import JointStage, StackGenerator
from tests.helpers import composed_experiment

EXPERIMENTS = Path(__file__).resolve().parents[3] / "experiments"
BASELINES = sorted((EXPERIMENTS / "baselines").glob("*.yaml"))
ABLATION = sorted((EXPERIMENTS / "ablation").glob("[0-9]_*.yaml"))  # the rungs (base.yaml: what they share)
SWITCHES = ("use_gru", "use_cin", "use_local", "use_refine", "use_hdr_layer", "lambda_cobi")
#: What each rung adds to the previous one (paper Table 3).
LADDER = {
    "1_unet": set(),
    "2_gru": {"use_gru"},
    "3_cin": {"use_cin"},
    "4_decomposition": {"use_local", "use_refine"},
    "5_hdr_layer": {"use_hdr_layer"},
    "6_cobi": {"lambda_cobi"},
}
#: Rungs beside the ladder: rung 5 with one of our departures from the paper switched back.
DEPARTURES = {"7_paper_output": {"shift_residual": False, "clip_headroom": False},
              "8_no_headroom": {"clip_headroom": False}}


def print_config(path: Path, *overlays: Path) -> dict:
    out = io.StringIO()
    extra = [arg for overlay in overlays for arg in ("--config", str(overlay))]
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit) as exit_info:
        lightning_main(["fit", "--config", str(path), *extra, "--print_config"])
    assert exit_info.value.code in (0, None)
    return yaml.safe_load(out.getvalue())


@pytest.mark.parametrize("path", BASELINES + ABLATION, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_parses_with_the_shared_conventions(path: Path) -> None:
    config = print_config(path)
    kind = path.parent.name
    namespace = dict_to_namespace(config)
    HDRSynCLI.fill_run_folders(namespace)  # what the CLI does before building the classes
    config = namespace_to_dict(namespace)
    logger = config["trainer"]["logger"]["init_args"]
    assert logger["group"] == "sample-cpu"
    assert logger["job_type"] == (path.stem if kind == "baselines" else "ablation")
    assert config["trainer"]["default_root_dir"] == logger["save_dir"] == f"runs/{kind}/{path.stem}"
    assert config["data"]["class_path"] == "datamodules.hdr_stack.HDRStackDataModule"
    assert config["data"]["init_args"]["image_size"] == 128
    if config["trainer"]["max_steps"] > 0:  # trained: the data module rebuilds its loader every epoch
        assert config["trainer"]["reload_dataloaders_every_n_epochs"] == 1
    model = config["model"]["class_path"]
    assert model.startswith("lightning_modules.baselines." if kind == "baselines"
                            else "lightning_modules.diffhdrsyn.JointStage")
    for callback in config["trainer"].get("callbacks") or []:
        assert not callback["class_path"].endswith("ModelCheckpoint"), "StageCheckpoint: no stale last-v1.ckpt"
        if callback["class_path"].endswith("StageCheckpoint"):
            assert callback["init_args"]["dirpath"] == f"runs/{kind}/{path.stem}/checkpoints"


def test_ablation_adds_one_component_per_rung() -> None:
    assert [p.stem for p in ABLATION] == [*LADDER, *DEPARTURES]
    rungs = {p.stem: composed_experiment(p) for p in ABLATION}
    assert len({args["trainer"]["max_steps"] for args in rungs.values()}) == 1  # one budget
    joint = composed_experiment(EXPERIMENTS / "joint.yaml")["model"]["init_args"]
    recipe = ("lr", "lr_refine", "betas", "lr_schedule")  # the main job's optimiser, on every rung
    assert all({k: r["model"]["init_args"][k] for k in recipe} == {k: joint[k] for k in recipe} for r in rungs.values())
    previous = None
    for name in LADDER:
        args = rungs[name]["model"]["init_args"]
        switches = {k: args[k] for k in SWITCHES}
        assert "global_ckpt" not in args and args["shift_residual"] is True and args["clip_headroom"] is True
        on = {k for k, v in switches.items() if v}
        assert on - (previous or set()) == LADDER[name] and (previous or set()) <= on
        previous = on
    assert rungs["6_cobi"]["model"]["init_args"]["vgg_weights"]
    for name, change in DEPARTURES.items():
        assert rungs[name]["model"]["init_args"] == {**rungs["5_hdr_layer"]["model"]["init_args"], **change}


@pytest.fixture(scope="module")
def vgg19_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random VGG-19 state dict up to relu4_4, standing in for torchvision's file in the CoBi rung."""
    torch.manual_seed(0)
    features = torchvision.models.vgg19().features[:27]
    path = tmp_path_factory.mktemp("vgg") / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in features.state_dict().items()}, path)
    return path


@pytest.mark.filterwarnings("ignore:You are trying to `self.log")  # no trainer attached
@pytest.mark.parametrize("path", ABLATION, ids=lambda p: p.stem)
def test_ablation_rung_trains_one_step(path: Path, batch: dict, vgg19_weights: Path) -> None:
    """The rung's model (at the tiny width) computes a finite loss that reaches its trained parameters."""
    init_args = composed_experiment(path)["model"]["init_args"]
    if "vgg_weights" in init_args:
        init_args["vgg_weights"] = str(vgg19_weights)
    torch.manual_seed(0)
    model = JointStage(**{**init_args, "width": "tiny"})
    loss = model.training_step(batch, 0)
    assert torch.isfinite(loss)
    loss.backward()
    trained = [p for p in model.generator.parameters() if p.requires_grad]
    assert trained and all(p.grad is not None and torch.isfinite(p.grad).all() for p in trained)


def test_reference_runs_through_lightning_test(tmp_path: Path) -> None:
    root = tmp_path / "linear"
    lightning_main([
        "test", "--config", str(EXPERIMENTS / "baselines/linear_expansion.yaml"),
        "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(root),
        "--trainer.logger.init_args.save_dir", str(root), "--data.init_args.image_size", "64",
        "--data.init_args.num_workers", "0", "--data.init_args.sample.views_per_scene", "1",
    ])
    exrs = sorted((root / "test/hdr").glob("*.exr"))
    assert exrs and len(exrs) == len(list((root / "test/preview").glob("*.png")))


@pytest.mark.parametrize("stage", ["global", "local", "joint"])
def test_paper_overlay_restores_the_paper_model_and_optimiser(stage: str) -> None:
    overlays = [EXPERIMENTS / "overlays/paper.yaml"]
    overlays += [EXPERIMENTS / "overlays/paper_joint.yaml"] if stage == "joint" else []
    args = print_config(EXPERIMENTS / f"{stage}.yaml", *overlays)["model"]["init_args"]
    assert args["width"] == "paper" and args["shift_residual"] is False and args["clip_headroom"] is False
    assert args["eval_margin"] == 0 and args["down_context"] is False
    assert args["lr"] == 1e-4 and list(args["betas"]) == [0.5, 0.999] and args["lr_schedule"] == "constant"
    if stage == "joint":
        assert args["lr_refine"] == 1e-4 and args["lambda_cobi"] == 0.1 and args["lambda_clipped"] == 0.0
    with torch.device("meta"):
        generator = StackGenerator(args["width"], shift_residual=args["shift_residual"],
                                   clip_headroom=args["clip_headroom"])
    assert sum(p.numel() for p in generator.parameters()) == 231_333_166
    assert generator.up.global_net.shift_ev is None and not generator.up.refine_net.residual
    default = print_config(EXPERIMENTS / f"{stage}.yaml")["model"]["init_args"]
    assert default["shift_residual"] is True and default["clip_headroom"] is True and default["eval_margin"] == 32
    assert default["lr"] == 1e-3 and default["lr_schedule"] == "cosine" and default["down_context"] is True


def test_a_baseline_with_the_release_overlay_trains_on_the_release_data() -> None:
    """``bench/runners/compare_release.sh`` trains baselines on ``overlays/release_data.yaml``: the release stages
    compose the same file, so a baseline and the release recipe see the same scenes, view counts and camera
    responses (the release recipe, composing the main job's stages, picks its framings for highlights)."""
    overlay = EXPERIMENTS / "overlays" / "release_data.yaml"
    baseline = print_config(EXPERIMENTS / "baselines" / "hdrcnn.yaml", overlay)["data"]["init_args"]
    release = print_config(EXPERIMENTS / "release" / "joint.yaml")["data"]["init_args"]
    default = print_config(EXPERIMENTS / "baselines" / "hdrcnn.yaml")["data"]["init_args"]
    assert release["sample"].pop("highlight_tries") == 4  # the main job's highlight views (overlays/highlights.yaml)
    assert baseline["sample"].pop("highlight_tries") == 1  # a baseline's own data: any framing
    assert baseline == release
    sample, default = baseline["sample"], default["sample"]
    assert (sample["views_per_scene"], sample["gamma_responses"], sample["gamma_contrast"]) == (32, 0.5, [0.0, 0.6])
    assert default["views_per_scene"] != 32 and default["gamma_responses"] == 0.0


def test_the_cpu_recipe_is_typed_once() -> None:
    """The CPU width and optimiser live in experiments/cpu.yaml (and the joint stage's own in stages/joint.yaml):
    no other experiment types them, and every CPU experiment of the paper model resolves to them."""
    recipe = ("width", "lr", "lr_refine", "betas", "lr_schedule")
    cpu = {**composed_experiment(EXPERIMENTS / "cpu.yaml")["model"]["init_args"],
           **composed_experiment(EXPERIMENTS / "stages" / "joint.yaml")["model"]["init_args"]}
    stages = [EXPERIMENTS / f"{s}.yaml" for s in ("global", "local", "joint")]
    for path in [*stages, *sorted((EXPERIMENTS / "release").glob("*.yaml")), *ABLATION, EXPERIMENTS / "ablation/base.yaml"]:
        own = (yaml.safe_load(path.read_text()).get("model") or {}).get("init_args") or {}
        assert not set(own) & set(recipe), f"{path.name} types {sorted(set(own) & set(recipe))}"
        model = composed_experiment(path)["model"]
        joint = model["class_path"].endswith("JointStage")
        expected = {k: cpu[k] for k in recipe if k != "lr_refine" or joint}
        assert {k: model["init_args"][k] for k in expected} == expected, path


#: Each ablation row of docs/highlights.md: (highlight_tries, down_context, the joint stage's lambda_clipped).
HIGHLIGHT_ROWS = {"before": (1, False, 0.0), "views": (4, False, 0.0), "context": (1, True, 0.0),
                  "all": (4, True, 0.1)}


@pytest.mark.parametrize("row", sorted(HIGHLIGHT_ROWS))
def test_highlight_rows_differ_from_before_by_what_they_name(row: str) -> None:
    """experiments/highlights/<row>: the row's switches in every stage, its own run folders; "all" is the main job."""
    tries, context, clipped = HIGHLIGHT_ROWS[row]
    for stage in ("global", "local", "joint"):
        config = print_config(EXPERIMENTS / "highlights" / row / f"{stage}.yaml")
        args = config["model"]["init_args"]
        assert (config["data"]["init_args"]["sample"]["highlight_tries"], args["down_context"]) == (tries, context)
        assert config["trainer"]["default_root_dir"] == f"runs/highlights/{row}/{stage}"
        if stage == "joint":
            assert args["lambda_clipped"] == clipped
            assert args["global_ckpt"] == f"runs/highlights/{row}/global/checkpoints/last.ckpt"
        if row == "all":
            main = print_config(EXPERIMENTS / f"{stage}.yaml")
            for section in ("model", "data"):
                assert {k: v for k, v in config[section]["init_args"].items() if not k.endswith("_ckpt")} == {
                    k: v for k, v in main[section]["init_args"].items() if not k.endswith("_ckpt")}
    for weight, name in ((0.1, "clipped_loss"), (1.0, "clipped_loss_1")):  # joint-only rows on "before"'s stages
        args = print_config(EXPERIMENTS / "highlights" / f"{name}.yaml")["model"]["init_args"]
        assert (args["lambda_clipped"], args["down_context"]) == (weight, False)
        assert args["global_ckpt"] == "runs/highlights/before/global/checkpoints/last.ckpt"
