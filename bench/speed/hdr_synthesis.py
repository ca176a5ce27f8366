"""Benchmark the HDR synthesis op against OpenCV's CalibrateDebevec + MergeDebevec (same run, same stacks).

Prints, per size: OpenCV time, op forward time (checks + sampling + solve + merge, no autograd) and its
ratio to OpenCV (target <= 0.5) for the float stack (the differentiable path) and for the same uint8
stack OpenCV gets (the 8-bit table-lookup path), each with the paper's Grossberg sampling (a histogram
of every pixel) and with OpenCV's own spatial sampling (70 pixels, what CalibrateDebevec does);
backward time (of a Grossberg forward run with autograd) and its ratio to forward (target <= 2), and
batched B=8 against 8 single calls. Stacks are laid out as loaded from (H, W, 3) files (channel
innermost). Best of ``--repeats`` runs each.

    python -m bench.speed.hdr_synthesis [--sizes 256 1024] [--repeats 7]
"""

from __future__ import annotations

import argparse
import functools
import time

import cv2
import numpy as np
import torch

from bench.timing import best_of_each
from hdrsyn.assets_index import HDRI_DIR
from hdrsyn.io import read_hdr
from hdrsyn.render import EMoR, auto_exposure, render_stack, sample_response
from ops.hdr_synthesis import synthesize_hdr

TIMES = np.array([2.0**ev for ev in range(-3, 4)], dtype=np.float32)


def stacks(size: int, count: int) -> np.ndarray:
    """``count`` uint8 stacks ``(7, size, size, 3)`` rendered from the bundled HDR photographs."""
    emor, rng, out = EMoR.load(), np.random.default_rng(0), []
    for path in sorted(HDRI_DIR.glob("*.exr"))[:count]:
        hdr = cv2.resize(np.maximum(read_hdr(path), 0), (size, size), interpolation=cv2.INTER_LINEAR)
        out.append(render_stack(hdr * auto_exposure(hdr), sample_response(emor, rng)))
    return np.stack(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    print(f"torch {torch.__version__}, OpenCV {cv2.__version__}, threads {torch.get_num_threads()}")
    times = torch.from_numpy(TIMES)[None]
    for size in args.sizes:
        data = stacks(size, 8)
        bgr = [np.ascontiguousarray(image[..., ::-1]) for image in data[0]]

        def opencv() -> None:
            response = cv2.createCalibrateDebevec().process(bgr, TIMES)
            cv2.createMergeDebevec().process(bgr, TIMES, response)

        one_uint8 = torch.from_numpy(data[:1]).permute(0, 1, 4, 2, 3)
        one = one_uint8.float() / 255
        batch = torch.from_numpy(data).permute(0, 1, 4, 2, 3).float() / 255

        def forward(stack: torch.Tensor = one, sampling: str = "grossberg") -> torch.Tensor:
            with torch.no_grad():
                return synthesize_hdr(stack, times.expand(len(stack), -1), sampling=sampling)[0]

        def backward_only() -> float:
            stack = one.clone().requires_grad_(True)
            loss = synthesize_hdr(stack, times)[0].mean()
            start = time.perf_counter()
            loss.backward()
            return time.perf_counter() - start

        def eight_single() -> None:
            for i in range(8):
                forward(batch[i : i + 1])

        variants = {
            f"{kind}, {sampling}": functools.partial(forward, stack, sampling)
            for sampling in ("grossberg", "spatial")
            for kind, stack in (("float", one), ("uint8", one_uint8))
        }
        forwards = best_of_each({"cv": opencv, **variants}, args.repeats)
        t_cv, t_fwd = forwards["cv"], forwards["float, grossberg"]
        t_bwd = min(backward_only() for _ in range(args.repeats + 1))
        best = best_of_each({"batch": lambda: forward(batch), "single": eight_single}, args.repeats)
        t_batch, t_single = best["batch"], best["single"]
        print(f"\n{size}x{size}, 7 exposures")
        print(f"  {'OpenCV Calibrate+Merge':30s}  {t_cv * 1e3:8.1f} ms")
        for name in variants:
            ratio = forwards[name] / t_cv
            label = f"op forward, {name}"
            print(f"  {label:30s}  {forwards[name] * 1e3:8.1f} ms   ratio to OpenCV {ratio:5.2f}  (target <= 0.5)")
        print(f"  {'op backward':30s}  {t_bwd * 1e3:8.1f} ms   ratio to forward {t_bwd / t_fwd:5.2f}  (target <= 2)")
        batched = t_batch / t_single
        print(f"  {'B=8 batched forward':30s}  {t_batch * 1e3:8.1f} ms   ratio to 8 single calls {batched:5.2f}")


if __name__ == "__main__":
    main()
