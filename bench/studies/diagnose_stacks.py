"""Stack PSNR per relative EV on the bundled validation views: references next to stage checkpoints.

References: copying the input into every exposure, the analytic exposure shift
``clip((x^2.2 2^EV)^(1/2.2), 0, 1)`` (:func:`ops.exposure.exposure_stack`) and, with ``--init``, the
untrained CPU-width generator in the paper's output formulation (seed 0). Each checkpoint
(``label=path`` of a global, local or joint stage) is scored as trained and, with ``--init``, as the
untrained model of the same configuration (seed 0): what training bought. Writes a markdown table.

    python -m bench.studies.diagnose_stacks global=runs/global/checkpoints/last.ckpt \\
        joint=runs/joint/checkpoints/last.ckpt --init -o reports/sample/diagnosis.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from tqdm import tqdm

from bench.tables import markdown_table, write_report
from datamodules.hdr_stack import HDRStackDataModule
from hdrsyn.errors import UsageError
from hdrsyn.metrics import stack_psnr
from hdrsyn.model_registry import checkpoint_class, read_checkpoint
from hdrsyn.render import EVS
from lightning_modules.diffhdrsyn import StackGenerator
from ops.exposure import exposure_stack

GENERATED_EVS = [ev for ev in EVS if ev != 0]


def load_stage(path: Path, trained: bool) -> torch.nn.Module:
    """The stage LightningModule saved in ``path`` (its weights unless ``trained`` is False), its class found by
    the model registry (:func:`hdrsyn.model_registry.checkpoint_class`)."""
    checkpoint = read_checkpoint(path)
    cls, named = checkpoint_class(checkpoint, path)
    if cls is None:
        raise UsageError(f"{path}: no class {named}")
    hparams = {k: v for k, v in checkpoint["hyper_parameters"].items() if not k.startswith("_")}
    for key in ("global_ckpt", "local_ckpt", "vgg_weights"):
        hparams.pop(key, None)
    if "lambda_cobi" in hparams:
        hparams["lambda_cobi"] = 0.0
    torch.manual_seed(0)
    model = cls(**hparams)
    if trained:
        model.load_state_dict(checkpoint["state_dict"], strict=False)
    return model.eval()


def stage_stack(model: torch.nn.Module, ldr: torch.Tensor) -> torch.Tensor:
    """The stack a stage generates: the joint stage with refinement, earlier stages their global outputs."""
    return model.generator(ldr, refine=getattr(model.generator.up, "refine_net", None) is not None)["stack"]


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoints", nargs="*", help="label=path of stage checkpoints")
    parser.add_argument("--init", action="store_true", help="also score each checkpoint's untrained model")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    data = HDRStackDataModule(image_size=args.image_size, num_workers=0, batch_size=8)
    data.setup("validate")
    methods = {"copy input": lambda ldr: ldr[:, None].expand(-1, len(EVS), -1, -1, -1),
               "analytic shift": lambda ldr: exposure_stack(ldr, EVS)}
    if args.init:
        torch.manual_seed(0)
        paper = StackGenerator("cpu", shift_residual=False, clip_headroom=False).eval()
        methods["paper output, cpu width (init)"] = lambda ldr: paper(ldr)["stack"]
    for spec in args.checkpoints:
        label, _, path = spec.partition("=")
        for trained in ((False, True) if args.init else (True,)):
            model = load_stage(Path(path), trained)
            methods[f"{label} ({'trained' if trained else 'init'})"] = lambda ldr, m=model: stage_stack(m, ldr)
    scores = {name: [] for name in methods}
    for batch in tqdm(data.val_dataloader(), desc="validation views"):
        for name, method in methods.items():
            scores[name].append(stack_psnr(method(batch["ldr"]), batch["stack"]))
    rows = []
    for name, parts in scores.items():
        per_ev = torch.cat(parts).mean(0)
        rows.append([name, *(f"{v:.2f}" for v in per_ev), f"{per_ev.mean():.2f}"])
    header = ["method", *(f"EV {ev:+d}" for ev in GENERATED_EVS), "mean"]
    write_report("\n".join(markdown_table(header, rows)) + "\n", args.output)


if __name__ == "__main__":
    main()
