"""Scores on a real bracketed photograph that no training view comes from: Debevec's Memorial Church.

The 16 bundled exposures (one stop apart, 8-bit, from a real camera whose response none of our data
contains) give both references: each single exposure is an input, its real neighbours at +-1..3 stops are
the true stack, and the merge of all 16 by our HDR layer (:func:`ops.hdr_synthesis.synthesize_hdr`, uint8
path) is the HDR reference. Each model (``label=path``: a joint-stage or baseline checkpoint, or a
packaged model; ``packaged`` = the default packaged model) reconstructs from each input in
``--inputs``; x^2.2 and the analytic exposure stack (merged by the same layer) are the references.
Stack PSNR per relative EV (stack models), PU21-PSNR and mu-PSNR of the HDR (protocol of ``lightning
test``), mean over the inputs. Prints and writes a markdown table.

    python bench/real_stack.py packaged main=runs/joint/checkpoints/last.ckpt -o reports/release/memorial.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from hdrsyn.assets_index import memorial_stack
from hdrsyn.inference import reconstruct_image
from hdrsyn.io import atomic_write, read_ldr
from hdrsyn.metrics import mu_law_psnr, pu21_psnr, stack_psnr
from hdrsyn.model_registry import Reconstructor, load_reconstructor
from hdrsyn.pretrained import pretrained_path
from ops.exposure import exposure_stack
from ops.hdr_synthesis import synthesize_hdr

EVS = (-3, -2, -1, 1, 2, 3)


def reference() -> tuple[torch.Tensor, torch.Tensor]:
    """The 16 exposures ``(16, 3, H, W)`` in [0, 1] (shortest first) and their merged HDR ``(1, 3, H, W)``."""
    files, times = memorial_stack()
    images = np.stack([np.round(read_ldr(f) * 255).astype(np.uint8) for f in files])
    stack = torch.from_numpy(images).permute(0, 3, 1, 2)
    radiance, _ = synthesize_hdr(stack[None], torch.tensor(times)[None])
    return stack.float() / 255, radiance


@torch.no_grad()
def scores(method: str, model: Reconstructor | None, images: torch.Tensor, hdr: torch.Tensor, index: int) -> dict:
    """Stack PSNR per EV (where there is a stack) and HDR scores of ``method`` from input ``images[index]``."""
    ldr = images[index]
    if method == "x^2.2":
        radiance, stack = ldr[None].pow(2.2), None
    elif method == "analytic stack":
        stack = exposure_stack(ldr[None], [-3, -2, -1, 0, 1, 2, 3])[0]
        radiance = synthesize_hdr(stack[None], torch.exp2(torch.arange(-3.0, 4.0))[None])[0]
    else:
        result = reconstruct_image(model, ldr)
        radiance, stack = result["radiance"][None], result.get("stack")
    out = {"pu21": float(pu21_psnr(radiance, hdr)), "mu": float(mu_law_psnr(radiance, hdr))}
    if stack is not None:
        psnr = stack_psnr(stack[None], images[index - 3 : index + 4][None])[0]  # EV -3..+3 without the input
        out.update({f"ev{ev:+d}": float(value) for ev, value in zip(EVS, psnr)})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, or 'packaged'")
    parser.add_argument("--inputs", type=int, nargs="+", default=[6, 7, 8, 9, 10, 11, 12],
                        help="indices (0 = shortest exposure) of the input exposures; need 3 on each side")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    images, hdr = reference()
    if any(not 3 <= i < len(images) - 3 for i in args.inputs):
        parser.error(f"--inputs must lie in [3, {len(images) - 4}]")
    methods: dict[str, Reconstructor | None] = {"x^2.2": None, "analytic stack": None}
    for spec in args.models:
        label, _, path = spec.partition("=")
        methods[label] = load_reconstructor(path or pretrained_path())  # "packaged": the default model
    table = {m: [scores(m, model, images, hdr, i) for i in args.inputs] for m, model in methods.items()}
    keys = ["pu21", "mu", *(f"ev{ev:+d}" for ev in EVS)]
    rows = [f"Memorial Church (real 8-bit exposures, one stop apart; inputs = exposures {args.inputs} of 0..15, "
            "shortest first). HDR reference: our merge of all 16. Mean over the inputs.", "",
            "| method | PU21-PSNR | μ-PSNR | " + " | ".join(f"stack EV {ev:+d}" for ev in EVS) + " |",
            "|---" * (len(keys) + 1) + "|"]
    for method, results in table.items():
        cells = [f"{np.mean([r[k] for r in results]):.2f}" if k in results[0] else "—" for k in keys]
        rows.append(f"| {method} | " + " | ".join(cells) + " |")
    text = "\n".join(rows) + "\n"
    print(text)
    if args.output:
        atomic_write(args.output, lambda path: path.write_text(text))


if __name__ == "__main__":
    main()
