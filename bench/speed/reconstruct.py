"""Seconds, peak memory and GFLOP/s of ``hdrsyn reconstruct`` with the packaged model, from 1 MP to 24 MP.

Each configuration runs in a fresh subprocess, whose peak resident set size (``ru_maxrss``: weights,
activations, allocator caches and the Python/torch runtime itself) is the memory figure; tracemalloc does
not see torch's allocations. The photo is Debevec's Memorial Church (EV 0 of the bundled stack) resized
to the configuration's size and saved as a JPEG. The timed work is what ``hdrsyn reconstruct`` does per
photo, :func:`hdrsyn.inference.reconstruct_file`: read, plan within ``--max-memory``
(:func:`hdrsyn.memory.plan_reconstruction`, the plan is printed), reconstruct, write every output. Then, in
the same process, each part alone: the network (at full size, in tiles, or at the working size with the
guided upsampling, :func:`hdrsyn.inference.guided_stack`) and, for photos merged whole, the merge
(:func:`ops.hdr_synthesis.synthesize_hdr`). The generator's GFLOP/s (FLOPs counted by
``torch.utils.flop_counter`` on the network's own input) is set against a plain 64 -> 64 3x3 conv timed in
the same process.

Configurations ``SIZE[:work=W][:tile=T]`` with ``SIZE`` one side of a square or ``WIDTHxHEIGHT``, e.g.
``1024:work=512``, ``3464:tile=640`` or ``6000x4000`` (24 MP, options left to the plan as the command
line's defaults do); ``--ckpt`` picks another model than the packaged one, ``--width`` times an untrained
generator of that width instead.

    python -m bench.speed.reconstruct --configs 1024 1024:work=512 3464:work=512 6000x4000
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from bench.memory import in_fresh_process, peak_rss_bytes
from bench.timing import best_of

#: Targets: 1 MP in 20 s and 2 GB; 24 MP within 4 GB.
TARGET_SECONDS, TARGET_GB, TARGET_24MP_GB = 20.0, 2.0, 4.0


def parse(config: str) -> dict:
    """``"1024:work=512:tile=640"`` -> ``{"width": 1024, "height": 1024, "work": 512, "tile": 640}``.

    >>> parse("6000x4000")
    {'width': 6000, 'height': 4000, 'work': None, 'tile': None}
    """
    size, *options = config.split(":")
    width, _, height = size.partition("x")
    parsed = {"width": int(width), "height": int(height or width), "work": None, "tile": None}
    for option in options:
        key, _, value = option.partition("=")
        if key not in ("work", "tile"):
            raise ValueError(f"unknown option {key!r} in {config!r} (work=, tile=)")
        parsed[key] = int(value)
    return parsed


def make_photo(config: dict, folder: Path) -> Path:
    """Memorial Church's EV 0 resized to the configuration's size, saved as a JPEG in ``folder``."""
    import cv2
    import numpy as np

    from hdrsyn.assets_index import memorial_stack
    from hdrsyn.io import read_ldr, write_ldr

    files, _ = memorial_stack()
    photo = np.round(read_ldr(files[len(files) // 2]) * 255).astype(np.uint8)
    path = folder / f"photo_{config['width']}x{config['height']}.jpg"
    write_ldr(path, cv2.resize(photo, (config["width"], config["height"]), interpolation=cv2.INTER_LINEAR))
    return path


def worker(config: dict, photo: str, ckpt: str | None, width: str | None, overlap: int, threads: int) -> dict:
    """Run one configuration in this process and return its figures."""
    import torch
    import torch.nn.functional as F
    from torch.utils.flop_counter import FlopCounterMode

    from hdrsyn.inference import RunOptions, guided_stack, output_paths, reconstruct_file
    from hdrsyn.io import read_hdr
    from hdrsyn.memory import plan_reconstruction
    from hdrsyn.model_registry import load_reconstructor
    from hdrsyn.pretrained import pretrained_path
    from hdrsyn.tiling import pad_to_multiple, run_tiled
    from lightning_modules.diffhdrsyn import StackGenerator, stack_reconstructor
    from ops.hdr_synthesis import synthesize_hdr

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    w, h, work, tile = config["width"], config["height"], config["work"], config["tile"]
    model = (stack_reconstructor(StackGenerator(width).eval()) if width
             else load_reconstructor(ckpt or pretrained_path()))
    plan = plan_reconstruction(model, h, w, tile, work, overlap=overlap)  # also probes the network's memory
    ready_rss = peak_rss_bytes()
    with tempfile.TemporaryDirectory() as out:
        paths = output_paths(Path(photo).stem, Path(out), model)
        start = time.perf_counter()
        reconstruct_file(Path(photo), paths, model, False, RunOptions("cpu", tile, overlap, work))
        seconds = time.perf_counter() - start
        peak = peak_rss_bytes()
        assert read_hdr(paths["exr"]).shape == (h, w, 3)
    photo_tensor = torch.rand(3, h, w) if plan.strip_rows is None else None
    with torch.inference_mode():
        if plan.work_size is not None:
            scale = plan.work_size / max(h, w)
            network_input = torch.rand(1, 3, max(1, round(h * scale)), max(1, round(w * scale)))
            network_seconds = best_of(lambda: run_tiled(model.network, network_input, model.size_multiple,
                                                        plan.tile, overlap), 1)
            if photo_tensor is not None:
                network_seconds = best_of(lambda: guided_stack(model, photo_tensor, plan.work_size, plan.tile,
                                                               overlap), 1)
        else:
            network_input = photo_tensor[None]
            network_seconds = best_of(lambda: run_tiled(model.network, network_input, model.size_multiple,
                                                        plan.tile, overlap), 1)
        merge_seconds = None
        if photo_tensor is not None:
            stack = torch.rand(1, len(model.evs), 3, h, w).sort(dim=1).values
            times = torch.exp2(torch.tensor(model.evs))[None]
            merge_seconds = best_of(lambda: synthesize_hdr(stack, times), 2)
            del stack
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
        "config": config, "plan": plan.describe(), "threads": threads, "seconds": seconds,
        "network_seconds": network_seconds, "merge_seconds": merge_seconds, "rss_before_gb": ready_rss / 2**30,
        "peak_rss_gb": peak / 2**30, "network_gflops": network_flops / network_alone / 1e9,
        "conv_gflops": conv_rate, "network_tflop": network_flops / 1e12,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", nargs="+", default=["1024", "1024:work=512", "3464:work=512", "6000x4000"],
                        help="SIZE[:work=W][:tile=T] each, SIZE a side or WIDTHxHEIGHT (3464^2 = 12 MP)")
    parser.add_argument("--ckpt", default=None, help="model to time (default: the packaged model)")
    parser.add_argument("--width", default=None, help="time an untrained generator of this width instead")
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--photo", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(parse(args.worker), args.photo, args.ckpt, args.width, args.overlap, args.threads)))
        return
    print(f"{'config':>18} {'seconds':>8} {'network':>8} {'merge':>6} {'peak rss':>9} {'GFLOP/s':>8} "
          f"{'conv':>6} {'ratio':>6}  plan; targets: {TARGET_SECONDS:.0f} s, {TARGET_GB:.0f} GB at 1 MP, "
          f"{TARGET_24MP_GB:.0f} GB at 24 MP", flush=True)
    with tempfile.TemporaryDirectory() as folder:
        for config in args.configs:
            photo = make_photo(parse(config), Path(folder))
            command = ["--worker", config, "--photo", str(photo), "--overlap", str(args.overlap), "--threads",
                       str(args.threads)]
            command += ["--ckpt", args.ckpt] if args.ckpt else []
            command += ["--width", args.width] if args.width else []
            try:
                r = in_fresh_process(__spec__.name, *command)
            except subprocess.CalledProcessError as failed:
                print(f"{config:>18} failed: {failed.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            finally:
                photo.unlink()
            merge = "-" if r["merge_seconds"] is None else f"{r['merge_seconds']:.1f}"
            print(f"{config:>18} {r['seconds']:8.1f} {r['network_seconds']:8.1f} {merge:>6} "
                  f"{r['peak_rss_gb']:7.2f}GB {r['network_gflops']:8.1f} {r['conv_gflops']:6.1f} "
                  f"{r['network_gflops'] / r['conv_gflops']:6.2f}  {r['plan']}", flush=True)


if __name__ == "__main__":
    main()
