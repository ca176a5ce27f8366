"""Does running a model at a working size help on large photos? Scores on large renders of held-out scenes.

The bundled validation views (3 held-out panoramas, 8 views each, auto-exposure key 0.18, no JPEG) are
rendered at ``--size`` pixels (default 512: the field of view of the 128-px training views, 4x the
pixels, as a larger photo of the same scene) and reconstructed by a model at full resolution and at each
``--work-sizes`` (:func:`hdrsyn.inference.guided_stack`), next to x^2.2 and the analytic exposure
stack merged by the HDR layer. Prints and writes a markdown table of PU21-PSNR, mu-PSNR (as ``lightning
test``) and seconds per image.

    python bench/work_size.py --ckpt runs/release/joint/checkpoints/last.ckpt -o reports/sample/work_size.md
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from tqdm import tqdm

from datamodules.sample import SampleDataset
from hdrsyn.inference import reconstruct_image
from hdrsyn.io import atomic_write
from hdrsyn.metrics import mu_law_psnr, pu21_psnr
from hdrsyn.model_registry import load_reconstructor
from hdrsyn.pretrained import pretrained_path
from ops.exposure import exposure_stack
from ops.hdr_synthesis import synthesize_hdr


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, default=None, help="model (default: the packaged model)")
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--work-sizes", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--views", type=int, default=8, help="views per held-out panorama")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    model = load_reconstructor(args.ckpt or pretrained_path())
    data = SampleDataset("val", image_size=args.size, views_per_scene=args.views)
    evs = torch.tensor(model.evs)
    methods = {"x^2.2": None, "analytic stack": None, "model, full size": None,
               **{f"model, work size {w}": w for w in args.work_sizes}}
    scores: dict[str, dict[str, list[float]]] = {m: {"pu21": [], "mu": [], "s": []} for m in methods}
    for index in tqdm(range(len(data)), desc=f"{args.size}-px views"):
        sample = data[index]
        ldr, hdr = sample["ldr"], sample["hdr"][None]
        for method, work in methods.items():
            start = time.perf_counter()
            if method == "x^2.2":
                radiance = ldr[None].pow(2.2)
            elif method == "analytic stack":
                radiance = synthesize_hdr(exposure_stack(ldr[None], model.evs), torch.exp2(evs)[None])[0]
            else:
                radiance = reconstruct_image(model, ldr, work_size=work)["radiance"][None]
            scores[method]["s"].append(time.perf_counter() - start)
            scores[method]["pu21"].append(float(pu21_psnr(radiance, hdr)))
            scores[method]["mu"].append(float(mu_law_psnr(radiance, hdr)))
    rows = [f"Held-out views rendered at {args.size} px ({len(data)} views), model {args.ckpt or pretrained_path()}",
            "", "| method | PU21-PSNR | μ-PSNR | s / image |", "|---|---|---|---|"]
    for method, values in scores.items():
        pu21, mu = torch.tensor(values["pu21"]), torch.tensor(values["mu"])
        rows.append(f"| {method} | {pu21.mean():.2f} ± {pu21.std():.2f} | {mu.mean():.2f} ± {mu.std():.2f} | "
                    f"{sum(values['s']) / len(values['s']):.2f} |")
    table = "\n".join(rows) + "\n"
    print(table)
    if args.output:
        atomic_write(args.output, lambda path: path.write_text(table))


if __name__ == "__main__":
    main()
