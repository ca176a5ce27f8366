"""Benchmark the data pipeline: samples/s of the data module alone, and the share of a training step
spent waiting for data.

1. Data module alone: set-up time (the sample renders its views here), then training batches per second
   through the DataLoader with ``--num-workers`` workers (default: the data module's default).
2. Training: ``Trainer.fit`` for ``--steps`` steps of a real training stage (``--model global|local|joint``,
   CPU width) or of a small stand-in conv net (``--model standin``); a callback measures, per step, the
   time between the end of one step and the start of the next (waiting for the next batch) and the step
   itself. The first two steps are warm-up and not counted.

    python -m bench.speed.data [--dataset sample] [--image-size 128] [--num-workers 2] [--model global]
"""

from __future__ import annotations

import argparse
import inspect
import os
import statistics
import time

import pytorch_lightning as pl
import torch
from torch import nn

from bench.timing import StepTimer
from datamodules.hdr_stack import HDRStackDataModule

WARMUP = 2


class StandIn(pl.LightningModule):
    """Stand-in model: a 6-layer 3x3 conv net (3->64->...->21 channels) predicting the stack with L1."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, padding=1), nn.SiLU()]
        for _ in range(4):
            layers += [nn.Conv2d(64, 64, 3, padding=1), nn.SiLU()]
        self.net = nn.Sequential(*layers, nn.Conv2d(64, 21, 3, padding=1))

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        stack = batch["stack"]
        pred = self.net(batch["ldr"]).view_as(stack)
        return (pred - stack).abs().mean()

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=1e-4)


def build_model(name: str) -> tuple[pl.LightningModule, str]:
    """The model to train and a description of it."""
    if name == "standin":
        return StandIn(), "STAND-IN 6-layer conv net (not the paper's model)"
    from lightning_modules.diffhdrsyn import GlobalStage, JointStage, LocalStage

    stage = {"global": GlobalStage, "local": LocalStage, "joint": JointStage}[name]
    kwargs = {"width": "cpu"}
    if name == "joint":
        kwargs["lambda_cobi"] = 0.0  # CoBi needs VGG-19 weights, which are not bundled
    model = stage(**kwargs)
    params = sum(p.numel() for p in model.parameters()) / 1e6
    return model, f"real {stage.__name__}({kwargs}), {params:.1f} M parameters"


def bench_loader(datamodule: HDRStackDataModule, batches: int) -> float:
    """Training samples per second through the data loader (first batch excluded)."""
    loader = iter(datamodule.train_dataloader())
    next(loader)
    start = time.perf_counter()
    count = 0
    for _ in range(batches):
        try:
            count += len(next(loader)["name"])
        except StopIteration:
            loader = iter(datamodule.train_dataloader())
    return count / (time.perf_counter() - start)


def main() -> None:
    default_workers = inspect.signature(HDRStackDataModule).parameters["num_workers"].default
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="sample", choices=("sample", "vds"))
    parser.add_argument("--root", default=None, help="dataset root for --dataset vds")
    parser.add_argument("--image-size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=1)
    parser.add_argument("--num-workers", type=int, default=default_workers)
    parser.add_argument("--batches", type=int, default=40, help="batches timed in part 1")
    parser.add_argument("--model", default="global", choices=("global", "local", "joint", "standin"))
    parser.add_argument("--steps", type=int, default=12, help="training steps timed in part 2")
    args = parser.parse_args()

    pl.seed_everything(0, workers=True, verbose=False)
    print(f"cores {os.cpu_count()} (load average {os.getloadavg()[0]:.1f}), torch threads {torch.get_num_threads()}, "
          f"num_workers {args.num_workers}, dataset {args.dataset}, image_size {args.image_size}, "
          f"batch_size {args.batch_size}")
    datamodule = HDRStackDataModule(
        args.dataset, root=args.root, image_size=args.image_size, batch_size=args.batch_size,
        num_workers=args.num_workers,
    )
    start = time.perf_counter()
    datamodule.setup("fit")
    print(f"[1] setup('fit'): {time.perf_counter() - start:.1f} s ({len(datamodule.train_set)} training samples)")
    datamodule.train_set[0]  # warm-up
    start = time.perf_counter()
    for index in range(1, 11):
        datamodule.train_set[index]
    print(f"[1] one training sample in the main process: {(time.perf_counter() - start) / 10 * 1e3:.0f} ms")
    rate = bench_loader(datamodule, args.batches)
    print(f"[1] data module alone: {rate:.1f} samples/s through {args.num_workers} workers")

    model, description = build_model(args.model)
    timer = StepTimer()
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_steps=args.steps + WARMUP, limit_val_batches=0, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False, callbacks=[timer],
    )
    trainer.fit(model, datamodule=datamodule)
    waits, steps = timer.waits[WARMUP - 1 :], timer.steps[WARMUP:]
    share = sum(waits) / (sum(waits) + sum(steps))
    print(f"[2] model: {description}")
    print(f"[2] training step (compute) median {statistics.median(steps) * 1e3:.0f} ms, "
          f"wait for data median {statistics.median(waits) * 1e3:.0f} ms, max {max(waits) * 1e3:.0f} ms")
    print(f"[2] share of the training step spent waiting for data: {share:.1%} over {len(steps)} steps")


if __name__ == "__main__":
    main()
