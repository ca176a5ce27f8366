"""The checks of ``bench/runners/device_check.sh``: the HDR op against the CPU, joint-stage training steps, a
reconstruction.

Each function returns one row of the summary (a dict) and raises on failure; :mod:`bench.speed.device_check`
runs them, catches, times and reports.
"""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader
from torchvision.models.vgg import cfgs, make_layers

from bench.memory import peak_memory_gb, reset_peak_memory
from bench.timing import StepTimer, synchronize
from datamodules.sample import SampleDataset
from hdrsyn.cli import reconstruct
from hdrsyn.assets_index import HDRI_DIR
from hdrsyn.io import read_hdr
from hdrsyn.model_registry import class_path_of
from lightning_modules.compile import CompileGenerator
from lightning_modules.diffhdrsyn import JointStage
from ops.hdr_synthesis import synthesize_hdr

PAPER_ITERATIONS = 70_000
#: Largest error of the op on the device against the CPU result in the same dtype: log radiance and inverse
#: CRF, gradient (relative to its largest value). float64 allows for another Cholesky (cuSOLVER vs LAPACK) on
#: directions the samples barely determine (README: < 1e-7 against a dense least-squares solve).
OP_TOLERANCE = {torch.float64: (1e-6, 1e-6), torch.float32: (1e-4, 1e-4)}


@dataclass(frozen=True)
class Plan:
    """What one run of the device check does: the GPU plan, or the small CPU stand-in."""

    device: str
    width: str
    image_size: int
    warmup: int
    steps: int
    photo: tuple[int, int]
    compile_backend: str
    cobi: bool
    train_budget_s: float
    threads: int | None = None

    @property
    def accelerator(self) -> str:
        return "gpu" if self.device == "cuda" else "cpu"


#: Paper width, 256 px, 3 warm-up + 20 timed steps, CoBi on a random VGG-19 (its cost), a 12 MP photo.
GPU_PLAN = Plan("cuda", "paper", 256, warmup=3, steps=20, photo=(4032, 3024), compile_backend="inductor",
                cobi=True, train_budget_s=150.0)
#: Tiny width, 32 px, 1 + 1 steps, no CoBi, a 160x128 photo, one thread (OpenMP hand-offs cost more than
#: they save on such small tensors); ``eager`` compile (dynamo's capture alone): inductor's C++ build of the
#: graphs takes minutes on a small CPU.
CPU_PLAN = Plan("cpu", "tiny", 32, warmup=1, steps=1, photo=(160, 128), compile_backend="eager",
                cobi=False, train_budget_s=20.0, threads=1)


def sample_batches(size: int) -> list[dict]:
    """Three real training batches (batch 1) of the bundled sample at ``size`` px: the validation scenes."""
    data = SampleDataset("val", image_size=size, views_per_scene=1)
    items = (data[i] for i in range(len(data)))
    return [{k: v[None] if isinstance(v, torch.Tensor) else [v] for k, v in item.items()} for item in items]


@contextlib.contextmanager
def pytorch_path() -> Iterator[None]:
    """The op's PyTorch path on a CPU (what GPUs run): the compiled C kernels switched off."""
    previous = os.environ.get("HDRSYN_NATIVE")
    os.environ["HDRSYN_NATIVE"] = "0"
    try:
        yield
    finally:
        if previous is None:
            del os.environ["HDRSYN_NATIVE"]
        else:
            os.environ["HDRSYN_NATIVE"] = previous


def _op_result(stack: torch.Tensor, times: torch.Tensor, weights: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Log radiance, log inverse CRF and the gradient of ``sum(weights * log radiance)``, as CPU float64."""
    stack = stack.detach().requires_grad_()
    radiance, inverse_crf = synthesize_hdr(stack, times)
    (radiance.log() * weights.to(radiance)).sum().backward()
    return tuple(t.detach().cpu().double() for t in (radiance.log(), inverse_crf.log(), stack.grad))


def op_check(plan: Plan, batch: dict) -> dict:
    """The HDR op (forward and gradient) on the device against the CPU (compiled kernels), float64 and float32."""
    stack, times = batch["stack"], torch.exp2(batch["ev"])
    weights = torch.rand(stack.shape[0], 3, *stack.shape[-2:], generator=torch.Generator().manual_seed(0))
    errors = {}
    for dtype in (torch.float64, torch.float32):
        reference = _op_result(stack.to(dtype), times, weights)
        with pytorch_path() if plan.device == "cpu" else contextlib.nullcontext():
            result = _op_result(stack.to(plan.device, dtype), times.to(plan.device), weights.to(plan.device))
        log_error = max(float((a - b).abs().max()) for a, b in zip(result[:2], reference[:2]))
        grad_error = float((result[2] - reference[2]).abs().max() / reference[2].abs().max())
        errors[dtype] = (log_error, grad_error)
    notes = "; ".join(
        f"{str(dtype)[6:]}: log {log:.1e}, grad {grad:.1e} (tol {OP_TOLERANCE[dtype][0]:.0e})"
        for dtype, (log, grad) in errors.items()
    )
    failed = [dtype for dtype, err in errors.items() if not all(e <= t for e, t in zip(err, OP_TOLERANCE[dtype]))]
    if failed:
        raise AssertionError(f"op on {plan.device} differs from the CPU beyond tolerance: {notes}")
    return {"notes": f"stack {tuple(stack.shape)}; {notes}",
            "max_log_error": {str(k)[6:]: v[0] for k, v in errors.items()},
            "max_grad_error": {str(k)[6:]: v[1] for k, v in errors.items()}}


def random_vgg19_weights(path: Path) -> Path:
    """A randomly initialised VGG-19 ``features.*`` state dict: CoBi's cost without the pretrained file."""
    torch.save({f"features.{k}": v for k, v in make_layers(cfgs["E"]).state_dict().items()}, path)
    return path


def train_check(plan: Plan, batches: list[dict], precision: str, compiled: bool, vgg: Path | None,
                reference_loss: float | None) -> dict:
    """``warmup`` + ``steps`` joint-stage training steps (Lightning, GC-Adam, CoBi with ``vgg``) at ``precision``."""
    pl.seed_everything(0, verbose=False)
    cobi = {"vgg_weights": str(vgg)} if vgg is not None else {"lambda_cobi": 0.0}
    with torch.device(plan.device):  # 231 M parameters are initialised much faster on a GPU
        model = JointStage(width=plan.width, **cobi)
    timer = StepTimer(plan.device, plan.warmup, plan.train_budget_s)
    callbacks = [timer, *([CompileGenerator(plan.compile_backend)] if compiled else [])]
    trainer = pl.Trainer(
        accelerator=plan.accelerator, devices=1, precision=precision, max_steps=plan.warmup + plan.steps,
        logger=False, enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, num_sanity_val_steps=0, callbacks=callbacks,
    )
    loader = DataLoader([batches[i % len(batches)] for i in range(plan.warmup + plan.steps)], batch_size=None)
    reset_peak_memory(plan.device)
    try:
        trainer.fit(model, loader)
    finally:
        if compiled:
            torch._dynamo.reset()
    if not timer.timed_ends:
        raise RuntimeError(f"no step finished after the {plan.warmup} warm-up step(s) within {plan.train_budget_s} s")
    if not all(math.isfinite(loss) for loss in timer.losses):
        raise FloatingPointError(f"non-finite training loss: {timer.losses}")
    seconds_per_step = (timer.timed_ends[-1] - timer.timed_from) / len(timer.timed_ends)
    row = {
        "steps": len(timer.timed_ends),
        "it_per_s": 1 / seconds_per_step,
        "s_per_it": seconds_per_step,
        "warmup_s": timer.warmup_s,
        "peak_gb": peak_memory_gb(plan.device),
        "projected_70k_h": PAPER_ITERATIONS * seconds_per_step / 3600,
        "first_loss": timer.losses[0],
    }
    notes = [f"warm-up ({plan.warmup} step{'s' * (plan.warmup > 1)}) {timer.warmup_s:.1f} s",
             "CoBi on" if vgg is not None else "no CoBi"]
    if len(timer.timed_ends) < plan.steps:
        notes.append(f"{len(timer.timed_ends)} of {plan.steps} steps timed ({plan.train_budget_s:.0f} s budget)")
    if reference_loss is not None:
        row["first_loss_rel_diff"] = abs(timer.losses[0] - reference_loss) / abs(reference_loss)
        notes.append(f"first loss vs fp32 {row['first_loss_rel_diff']:.1e}")
    row["notes"] = ", ".join(notes)
    del trainer, model
    return row


def make_photo(size: tuple[int, int], path: Path) -> Path:
    """A ``width x height`` JPEG photo: a bundled HDR panorama, exposed, gamma-encoded and resized."""
    hdr = read_hdr(HDRI_DIR / "city.exr")
    ldr = np.clip((np.maximum(hdr, 0) / np.median(hdr) * 0.18) ** (1 / 2.2), 0, 1)
    image = cv2.resize((ldr * 255).round().astype(np.uint8), size, interpolation=cv2.INTER_CUBIC)
    if not cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 92]):
        raise OSError(f"cannot write {path}")
    return path


def joint_checkpoint(plan: Plan, path: Path) -> Path:
    """A joint-stage checkpoint (random weights) that ``hdrsyn reconstruct`` loads."""
    pl.seed_everything(0, verbose=False)
    with torch.device(plan.device):
        model = JointStage(width=plan.width, lambda_cobi=0.0)
    hparams = {**model.hparams, "_class_path": class_path_of(JointStage)}
    torch.save({"state_dict": {k: v.cpu() for k, v in model.state_dict().items()}, "hyper_parameters": hparams},
               path)
    return path


def predict_check(plan: Plan, folder: Path) -> dict:
    """``hdrsyn reconstruct`` of one ``plan.photo`` JPEG (whole image, no tiles) on the device."""
    folder.mkdir(parents=True, exist_ok=True)
    photo = make_photo(plan.photo, folder / "photo.jpg")
    checkpoint = joint_checkpoint(plan, folder / "joint.ckpt")
    reset_peak_memory(plan.device)
    start = time.perf_counter()
    code = reconstruct.main([str(photo), "--ckpt", str(checkpoint), "-o", str(folder / "out"),
                             "--device", plan.device, "--overwrite"])
    synchronize(plan.device)
    seconds = time.perf_counter() - start
    if code != 0 or not (folder / "out/photo.exr").is_file():
        raise RuntimeError(f"hdrsyn reconstruct failed (exit code {code})")
    megapixels = plan.photo[0] * plan.photo[1] / 1e6
    return {"reconstruct_s": seconds, "peak_gb": peak_memory_gb(plan.device),
            "notes": f"{plan.photo[0]}x{plan.photo[1]} ({megapixels:.1f} MP) JPEG, {seconds:.1f} s incl. loading and "
                     "writing EXR + 7 PNGs"}
