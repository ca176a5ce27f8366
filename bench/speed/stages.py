"""Seconds per training step of each stage, and peak memory, at CPU and paper width on 256x256.

``--throughput`` instead compares the CPU-width generator's forward GFLOP/s with a plain 64 -> 64 3x3
convolution's, both measured in this process (the target of issue "The method must learn": >= 0.6), and
with its own convolutions replayed alone on the inputs they saw: their GFLOP/s is what its 8-64-channel
layers can reach at all, and the share of its time they take says how much goes to everything else.
``--width-scale 1.5`` times the same networks with every channel count 1.5x the CPU width's (12-96
instead of 8-64 channels): how much of the ratio is the narrow layers' and not the code around them.

Each (stage, width) runs in a fresh subprocess so that its peak resident memory (``ru_maxrss``) is its
own. A step is the stage's full ``training_step`` + backward + GC-Adam update on one real sample of the
bundled data (batch 1, as in the paper), with subnormal floats flushed where the experiments' ``FlushDenormals``
callback does so; the figure is the median of ``--steps`` timed steps after ``--warmup`` untimed ones (training
slows down after its first steps, so the first step alone flatters). The CPU-width global stage is the
reference of the ratios.

    python -m bench.speed.stages [--size 256] [--warmup 3] [--steps 6] [--widths cpu paper]
    python -m bench.speed.stages --throughput [--size 256] [--width-scale 1.0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import TYPE_CHECKING

from bench.memory import in_fresh_process, peak_rss_bytes
from bench.timing import SETTLE_SECONDS, timed

if TYPE_CHECKING:
    from lightning_modules.diffhdrsyn.model import GeneratorWidths

#: Class path of each stage. The model registry also finds the class by a path of before
#: ``lightning_modules/diffhdrsyn/`` (:func:`hdrsyn.model_registry.resolve_class`), so the script also times
#: older trees: ``git worktree add ../old ea2869e``, then from that tree ``cd ../old && PYTHONPATH=$OLDPWD
#: python -m bench.speed.stages ...`` (each tree timed as its own experiments train: its packages come first).
STAGES = {
    "global": "lightning_modules.diffhdrsyn.GlobalStage",
    "local": "lightning_modules.diffhdrsyn.LocalStage",
    "joint": "lightning_modules.diffhdrsyn.JointStage",
}
#: Where each stage lived before ``lightning_modules/diffhdrsyn/``: for a tree whose registry predates
#: :func:`~hdrsyn.model_registry.resolve_class` (e.g. ``ea2869e``).
OLD_STAGES = {
    "global": "lightning_modules.global_stage.GlobalStage",
    "local": "lightning_modules.local_stage.LocalStage",
    "joint": "lightning_modules.joint_stage.JointStage",
}


def stage_class(stage: str) -> type:
    """The stage's LightningModule class in the tree on ``sys.path``, found by its model registry."""
    try:
        from hdrsyn.model_registry import resolve_class
    except ImportError:  # a tree older than the registry's class lookup: import the class, new path first
        import importlib

        for path in (STAGES[stage], OLD_STAGES[stage]):
            module_name, _, class_name = path.rpartition(".")
            try:
                return getattr(importlib.import_module(module_name), class_name)
            except ImportError:  # not in this tree (or half-found through an editable install of a newer one)
                continue
        raise ModuleNotFoundError(f"no {stage} stage at {STAGES[stage]} or {OLD_STAGES[stage]}") from None
    cls = resolve_class(STAGES[stage])
    if cls is None:
        raise ModuleNotFoundError(f"no {stage} stage at {STAGES[stage]}")
    return cls


def flush_like_the_experiments() -> bool:
    """Flush subnormal floats if this tree's experiments do (its ``FlushDenormals`` callback); returns whether."""
    import torch

    try:
        from lightning_modules.callbacks import FlushDenormals  # noqa: F401
    except ImportError:
        return False
    return torch.set_flush_denormal(True)


def measure(stage: str, width: str, size: int, warmup: int, steps: int) -> dict:
    """Run inside the subprocess: the median time of ``steps`` optimiser steps after ``warmup`` ones."""
    import statistics

    from datamodules.hdr_stack import HDRStackDataModule
    from datamodules.sample import SampleOptions

    flushed = flush_like_the_experiments()
    cls = stage_class(stage)
    model = cls(width=width, **({"lambda_cobi": 0.0} if stage == "joint" else {}))
    model.log = model.log_dict = lambda *args, **kwargs: None
    optimizer = model.configure_optimizers()
    data = HDRStackDataModule(image_size=size, num_workers=0, sample=SampleOptions(views_per_scene=1), augment=False)
    data.setup("fit")
    batch = next(iter(data.train_dataloader()))
    times = []
    for _ in range(warmup + steps):
        start = time.perf_counter()
        loss = model.training_step(batch, 0)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    peak_mb = peak_rss_bytes() / 2**20
    return {"stage": stage, "width": width, "seconds_per_step": statistics.median(times[warmup:]), "peak_mb": peak_mb,
            "flushed": flushed, "source": sys.modules[cls.__module__].__file__,
            "parameters": sum(p.numel() for p in model.parameters())}


def scaled_cpu_widths(scale: float) -> GeneratorWidths:
    """The CPU width preset with every U-Net's stem and cap channels times ``scale`` (rounded).

    >>> scaled_cpu_widths(1.5).global_net
    NetWidth(base_channels=12, max_channels=96)
    """
    from lightning_modules.diffhdrsyn.model import WIDTH_PRESETS, GeneratorWidths, NetWidth

    if not scale > 0:
        raise ValueError(f"--width-scale must be > 0, got {scale}")
    cpu = WIDTH_PRESETS["cpu"]
    nets = [NetWidth(max(1, round(w.base_channels * scale)), max(1, round(w.max_channels * scale)))
            for w in (cpu.global_net, cpu.local_net, cpu.refine_net)]
    return GeneratorWidths(*nets)


def generator_throughput(size: int, trials: int = 9, widths: str | GeneratorWidths = "cpu") -> dict:
    """GFLOP/s of the generator's forward (CPU width, or ``widths``, e.g. :func:`scaled_cpu_widths`), of its
    own convolutions replayed alone (same inputs, shapes and memory format: the ceiling at these widths) and
    of a plain 64 -> 64 3x3 conv at ``size``.

    Paired trials: each times the generator once, its convolutions once and the plain conv repeated for
    about as long as the generator takes, back to back, so that the machine's speed (other tenants, clock)
    is the same for the three; the ratios are per trial, reported as the median and range over ``trials``.
    """
    import statistics

    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from lightning_modules.diffhdrsyn.model import StackGenerator

    torch.manual_seed(0)
    generator = StackGenerator(widths, margin=0).eval()  # the nets at size x size (no reflected border)
    conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
    image, features = torch.rand(1, 3, size, size), torch.rand(1, 64, size, size)
    calls: list[tuple[torch.nn.Module, torch.Tensor]] = []
    hooks = [m.register_forward_pre_hook(lambda m, args: calls.append((m, args[0].detach().clone())))
             for m in generator.modules() if isinstance(m, torch.nn.Conv2d)]
    # oneDNN off: the conv + Swish pairs run as two modules, which the hooks and the FLOP counter see
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        generator(image)
    for hook in hooks:
        hook.remove()

    def own_convs() -> None:
        for module, x in calls:
            module(x)

    runs = {"generator": (lambda: generator(image)), "own convs": own_convs, "conv": (lambda: conv(features))}
    flops, rates = {}, {name: [] for name in runs}
    with torch.no_grad():
        for name, run in runs.items():
            with FlopCounterMode(display=False) as counter, torch.backends.mkldnn.flags(enabled=False):
                run()
            flops[name] = counter.get_total_flops()
            run()  # warm-up with oneDNN on
        repeats = max(1, round(timed(runs["generator"], settle_s=SETTLE_SECONDS)
                               / timed(runs["conv"], settle_s=SETTLE_SECONDS)))
        for _ in range(trials):
            for name, run in runs.items():
                seconds = timed(run, repeats if name == "conv" else 1, settle_s=SETTLE_SECONDS)
                rates[name].append(flops[name] / seconds / 1e9)
    ratios = [g / c for g, c in zip(rates["generator"], rates["conv"])]
    own = [o / c for o, c in zip(rates["own convs"], rates["conv"])]
    share = [g / o for g, o in zip(rates["generator"], rates["own convs"])]
    return {"generator_gflops": statistics.median(rates["generator"]),
            "own_conv_gflops": statistics.median(rates["own convs"]),
            "conv_gflops": statistics.median(rates["conv"]), "conv_repeats": repeats, "trials": trials,
            "ratio": statistics.median(ratios), "ratio_range": (min(ratios), max(ratios)),
            "own_conv_ratio": statistics.median(own), "conv_share": flops["own convs"] / flops["generator"],
            "conv_time_share": statistics.median(share) * flops["own convs"] / flops["generator"],
            "generator_seconds": flops["generator"] / statistics.median(rates["generator"]) / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=6, help="timed steps (their median is reported)")
    parser.add_argument("--widths", nargs="+", default=["cpu", "paper"])
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    parser.add_argument("--throughput", action="store_true", help="generator vs plain-conv GFLOP/s only")
    parser.add_argument("--width-scale", type=float, default=1.0,
                        help="with --throughput: every channel count times this (1.5: 12-96 channels)")
    args = parser.parse_args()
    if args.throughput:
        try:
            widths = scaled_cpu_widths(args.width_scale)
        except ValueError as error:
            parser.error(str(error))
        r = generator_throughput(args.size, widths=widths)
        scaled = "" if args.width_scale == 1 else f" (channels x{args.width_scale:g})"
        print(f"generator forward{scaled} {r['generator_gflops']:.1f} GFLOP/s ({r['generator_seconds'] * 1e3:.0f} ms); "
              f"its convolutions alone ({r['conv_share']:.0%} of its FLOPs) {r['own_conv_gflops']:.1f} GFLOP/s; "
              f"plain 64->64 3x3 conv {r['conv_gflops']:.1f} GFLOP/s (x{r['conv_repeats']} per timing); "
              f"medians of {r['trials']} paired trials")
        print(f"ratio to the 64->64 conv: generator {r['ratio']:.2f} (trials {r['ratio_range'][0]:.2f}-"
              f"{r['ratio_range'][1]:.2f}), its own convolutions {r['own_conv_ratio']:.2f} (the ceiling at these "
              f"widths); generator time in its convolutions {r['conv_time_share']:.0%}")
        return
    if args.child:
        print(json.dumps(measure(args.child[0], args.child[1], args.size, args.warmup, args.steps)))
        return
    results = []
    for width in args.widths:
        for stage in STAGES:
            results.append(in_fresh_process(__spec__.name, "--child", stage, width, "--size", str(args.size),
                                            "--warmup", str(args.warmup), "--steps", str(args.steps)))
            r = results[-1]
            print(f"{r['stage']:>6} {r['width']:>5}  {r['parameters'] / 1e6:8.2f} M params  "
                  f"{r['seconds_per_step']:7.2f} s/step  peak {r['peak_mb']:8.0f} MB  "
                  f"x{r['seconds_per_step'] / results[0]['seconds_per_step']:6.1f} vs {results[0]['stage']} "
                  f"{results[0]['width']}{'  (subnormals flushed)' if r['flushed'] else ''}", flush=True)


if __name__ == "__main__":
    main()
