"""Time and peak memory of ``hdrsyn reconstruct`` on one 1024x1024 photo on 2 CPU threads.

Each configuration runs in a fresh subprocess, whose peak resident set size (``ru_maxrss``: weights,
activations, allocator caches and the Python/torch runtime itself) is the memory figure; tracemalloc does
not see torch's allocations. Weights are random (timing and memory do not depend on them); the photo is
Debevec's Memorial Church (EV 0 of the bundled stack) resized to 1024x1024. The timed work is
:func:`hdrsyn.reconstruct.reconstruct_image`: both 3-step recursions of the generator, the CRF solve and
merge at full resolution, and the preview.

Measured (2 threads on a 2-core machine shared with other jobs, load average 4.5-5.7, so times are
pessimistic; overlap 128)::

          config   params   seconds  rss ready  peak rss  / 4 GB
    paper:640/128   231.3M     273.7     1.66GB    2.90GB    0.72
           paper   231.3M     277.6     1.66GB    3.84GB    0.96
             cpu     3.1M      97.9     0.81GB    1.65GB    0.41

Usage: ``python bench/bench_reconstruct.py [--configs cpu paper paper:640 ...] [--size 1024]`` where
``WIDTH[:TILE]`` tiles with ``TILE`` and ``--overlap``.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

TARGET_GB = 4.0


def worker(width: str, tile: int | None, overlap: int, size: int, threads: int) -> dict:
    """Run one configuration in this process and return its figures."""
    import torch
    import torch.nn.functional as F

    from hdrsyn.assets_index import memorial_stack
    from hdrsyn.io import read_ldr
    from hdrsyn.model_registry import stack_reconstructor
    from hdrsyn.networks import StackGenerator
    from hdrsyn.reconstruct import reconstruct_image

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    files, _ = memorial_stack()
    photo = torch.from_numpy(read_ldr(files[len(files) // 2])).permute(2, 0, 1)[None]
    photo = F.interpolate(photo, size=(size, size), mode="bilinear", antialias=False).clamp(0, 1)[0]
    model = stack_reconstructor(StackGenerator(width).eval())
    params = sum(p.numel() for p in model.network.parameters())
    ready_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    result = reconstruct_image(model, photo, tile, overlap)
    seconds = time.perf_counter() - start
    assert result["radiance"].shape == (3, size, size) and bool(torch.isfinite(result["radiance"]).all())
    return {
        "width": width, "tile": tile, "overlap": overlap if tile else None, "size": size, "threads": threads,
        "params_m": params / 1e6, "seconds": seconds,
        "rss_before_gb": ready_rss / 2**20, "peak_rss_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["cpu", "paper", "paper:640"], help="WIDTH[:TILE] each")
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        width, _, tile = args.worker.partition(":")
        print(json.dumps(worker(width, int(tile) if tile else None, args.overlap, args.size, args.threads)))
        return
    print(f"{'config':>12} {'params':>8} {'seconds':>9} {'rss ready':>10} {'peak rss':>9} {'/ 4 GB':>7}", flush=True)
    for config in args.configs:
        command = [sys.executable, __file__, "--worker", config, "--overlap", str(args.overlap),
                   "--size", str(args.size), "--threads", str(args.threads)]
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode:
            print(f"{config:>12} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
            continue
        r = json.loads(done.stdout.strip().splitlines()[-1])
        label = config + ("" if r["tile"] is None else f"/{r['overlap']}")
        print(f"{label:>12} {r['params_m']:7.1f}M {r['seconds']:9.1f} {r['rss_before_gb']:8.2f}GB "
              f"{r['peak_rss_gb']:7.2f}GB {r['peak_rss_gb'] / TARGET_GB:7.2f}", flush=True)


if __name__ == "__main__":
    main()
