"""Seconds, peak memory and GFLOP/s of ``hdrsyn reconstruct`` with the packaged model, at 1 MP and 12 MP.

Each configuration runs in a fresh subprocess, whose peak resident set size (``ru_maxrss``: weights,
activations, allocator caches and the Python/torch runtime itself) is the memory figure; tracemalloc does
not see torch's allocations. The photo is Debevec's Memorial Church (EV 0 of the bundled stack) resized
to the configuration's size. The timed work is :func:`hdrsyn.inference.reconstruct_image` (generator,
CRF solve and merge at full resolution, preview), then, in the same process, each part alone: the network
(at full size, in tiles, or at the working size with the guided upsampling,
:func:`hdrsyn.inference.guided_stack`) and the merge (:func:`ops.hdr_synthesis.synthesize_hdr`). The
generator's GFLOP/s (FLOPs counted by ``torch.utils.flop_counter`` on the network's own input) is set
against a plain 64 -> 64 3x3 conv timed in the same process.

Configurations ``SIZE[:work=W][:tile=T]``, e.g. ``1024:work=512`` or ``3464:tile=640``; ``--ckpt`` picks
another model than the packaged one, ``--width`` times an untrained generator of that width instead.

    python bench/bench_reconstruct.py --configs 1024 1024:work=512 3464:work=512 3464:tile=640
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

TARGET_SECONDS, TARGET_GB = 20.0, 2.0


def parse(config: str) -> dict:
    """``"1024:work=512:tile=640"`` -> ``{"size": 1024, "work": 512, "tile": 640}``."""
    size, *options = config.split(":")
    parsed = {"size": int(size), "work": None, "tile": None}
    for option in options:
        key, _, value = option.partition("=")
        if key not in ("work", "tile"):
            raise ValueError(f"unknown option {key!r} in {config!r} (work=, tile=)")
        parsed[key] = int(value)
    return parsed


def best_of(run, repeats: int) -> float:
    """Fastest of ``repeats`` timed calls of ``run``."""
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def worker(config: dict, ckpt: str | None, width: str | None, overlap: int, threads: int) -> dict:
    """Run one configuration in this process and return its figures."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from hdrsyn.assets_index import memorial_stack
    from hdrsyn.inference import guided_stack, reconstruct_image
    from hdrsyn.io import read_ldr
    from hdrsyn.model_registry import load_reconstructor
    from hdrsyn.pretrained import pretrained_path
    from hdrsyn.tiling import pad_to_multiple, run_tiled
    from lightning_modules.diffhdrsyn import StackGenerator, stack_reconstructor
    from ops.hdr_synthesis import synthesize_hdr

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    size, work, tile = config["size"], config["work"], config["tile"]
    files, _ = memorial_stack()
    photo = torch.from_numpy(read_ldr(files[len(files) // 2])).permute(2, 0, 1)[None]
    photo = F.interpolate(photo, size=(size, size), mode="bilinear", antialias=False).clamp(0, 1)[0]
    model = (stack_reconstructor(StackGenerator(width).eval()) if width
             else load_reconstructor(ckpt or pretrained_path()))
    ready_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = reconstruct_image(model, photo, tile, overlap, work_size=work)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert result["radiance"].shape == (3, size, size) and bool(torch.isfinite(result["radiance"]).all())
    with torch.inference_mode():
        if work is not None:
            network_input = F.interpolate(photo[None], scale_factor=work / size, mode="area")
            network_seconds = best_of(lambda: guided_stack(model, photo, work, tile, overlap), 1)
        else:
            network_input = photo[None]
            network_seconds = best_of(lambda: run_tiled(model.network, photo[None], model.size_multiple, tile,
                                                        overlap), 1)
        stack = result["stack"][None]
        merge_seconds = best_of(lambda: synthesize_hdr(stack, torch.exp2(result["ev"])[None]), 2)
        padded = pad_to_multiple(network_input, model.size_multiple)
        # oneDNN off while counting: its fused conv + Swish (the inference path) has no FLOP formula
        with FlopCounterMode(display=False) as counter, torch.backends.mkldnn.flags(enabled=False):
            model.network(padded)
        network_flops = counter.get_total_flops()
        network_alone = best_of(lambda: model.network(padded), 1)
        conv = torch.nn.Conv2d(64, 64, 3, padding=1).eval()
        features = torch.rand(1, 64, 256, 256)
        with FlopCounterMode(display=False) as counter:
            conv(features)
        conv_rate = counter.get_total_flops() / best_of(lambda: conv(features), 5) / 1e9
    return {
        "config": config, "threads": threads, "seconds": seconds, "network_seconds": network_seconds,
        "merge_seconds": merge_seconds, "rss_before_gb": ready_rss / 2**20, "peak_rss_gb": peak / 2**20,
        "network_gflops": network_flops / network_alone / 1e9, "conv_gflops": conv_rate,
        "network_tflop": network_flops / 1e12,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["1024", "1024:work=512", "3464:work=512"],
                        help="SIZE[:work=W][:tile=T] each (3464^2 = 12 MP)")
    parser.add_argument("--ckpt", default=None, help="model to time (default: the packaged model)")
    parser.add_argument("--width", default=None, help="time an untrained generator of this width instead")
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(parse(args.worker), args.ckpt, args.width, args.overlap, args.threads)))
        return
    print(f"{'config':>18} {'seconds':>8} {'network':>8} {'merge':>6} {'peak rss':>9} {'GFLOP/s':>8} "
          f"{'conv':>6} {'ratio':>6}  targets: {TARGET_SECONDS:.0f} s, {TARGET_GB:.0f} GB at 1 MP", flush=True)
    for config in args.configs:
        parse(config)
        command = [sys.executable, __file__, "--worker", config, "--overlap", str(args.overlap),
                   "--threads", str(args.threads)]
        command += ["--ckpt", args.ckpt] if args.ckpt else []
        command += ["--width", args.width] if args.width else []
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"{config:>18} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{config:>18} {r['seconds']:8.1f} {r['network_seconds']:8.1f} {r['merge_seconds']:6.1f} "
              f"{r['peak_rss_gb']:7.2f}GB {r['network_gflops']:8.1f} {r['conv_gflops']:6.1f} "
              f"{r['network_gflops'] / r['conv_gflops']:6.2f}", flush=True)


if __name__ == "__main__":
    main()
