"""Pictures of a model on bundled photos: its stack sheet (generated EV -3..+3 + tone-mapped HDR) and
its recovered response curve, as ``hdrsyn reconstruct`` makes them, for the README and MODEL.md.

Photos: the Memorial Church exposure ``--memorial`` (a real 8-bit photograph, 2.1 % clipped at index 12),
held-out views of the bundled sample rendered at ``--size`` px (the validation scenes) and views of its test
scenes (``--test-views``: scenes nothing was trained, validated or chosen on). Writes
``<out>/<name>_sheet.png`` (rows: the real or true stack above the generated one) and
``<out>/<name>_crf.png``.

    python -m bench.figures.model_figure -o reports/release
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from datamodules.sample import SampleDataset
from hdrsyn.assets_index import memorial_stack
from hdrsyn.contact_sheet import save_contact_sheet
from hdrsyn.io import read_ldr
from hdrsyn.model_registry import Reconstructor, load_reconstructor
from hdrsyn.plots import plot_response
from hdrsyn.pretrained import pretrained_path
from hdrsyn.inference import reconstruct_image
from ops.hdr_synthesis import synthesize_hdr


def hwc(image: torch.Tensor) -> np.ndarray:
    return image.permute(1, 2, 0).float().numpy()


@torch.no_grad()
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", type=Path, default=None, help="model (default: the packaged model)")
    parser.add_argument("--memorial", type=int, default=12, help="input exposure (0 = shortest of 16)")
    parser.add_argument("--views", nargs="+", default=["lab_001", "venice_002", "night_000"])
    parser.add_argument("--test-views", nargs="*", default=["interior_007", "sunrise_007"],
                        help="views of the sample's test scenes")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("-o", "--output", type=Path, required=True)
    args = parser.parse_args()
    model = load_reconstructor(args.ckpt or pretrained_path())
    args.output.mkdir(parents=True, exist_ok=True)
    files, times = memorial_stack()
    real = torch.stack([torch.from_numpy(read_ldr(f)).permute(2, 0, 1) for f in files])
    i = args.memorial
    truth = real[i - 3 : i + 4]
    merged, _ = synthesize_hdr((real * 255).round().to(torch.uint8)[None], torch.tensor(times)[None])
    result = reconstruct_image(model, real[i])
    save_contact_sheet(args.output / "memorial_sheet.png", [hwc_stack(truth), hwc_stack(result["stack"])],
                       [hwc(merged[0]), hwc(result["radiance"])], names=["real photos", "generated"], tile=160)
    plot_response(result["inverse_crf"].numpy(), args.output / "memorial_crf.png",
                  title="Response recovered from the generated stack (Memorial Church)")
    splits = {"val": args.views, "test": args.test_views}
    for split, names in splits.items():
        data = SampleDataset(split, image_size=args.size, views_per_scene=8) if names else None
        for name in names:
            sheet(model, data, name, args.output)
    print(f"wrote {sorted(p.name for p in args.output.glob('*.png'))}")


def sheet(model: Reconstructor, data: SampleDataset, name: str, output: Path) -> None:
    """The stack sheet and response plot of view ``name`` of ``data``."""
    if name not in data.names:
        raise SystemExit(f"model_figure: no view {name!r} (views are <scene>_000 .. <scene>_007)")
    sample = data[data.names.index(name)]
    result = reconstruct_image(model, sample["ldr"])
    save_contact_sheet(output / f"{name}_sheet.png", [hwc_stack(sample["stack"]), hwc_stack(result["stack"])],
                       [hwc(sample["hdr"]), hwc(result["radiance"])], names=["true stack", "generated"], tile=160)
    plot_response(result["inverse_crf"].numpy(), output / f"{name}_crf.png",
                  title=f"Response recovered from the generated stack ({name})")


def hwc_stack(stack: torch.Tensor) -> np.ndarray:
    return stack.permute(0, 2, 3, 1).float().numpy()


if __name__ == "__main__":
    main()
