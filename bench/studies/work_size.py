"""Does running a model at a working size help on large photos? Scores on large renders of held-out scenes.

The bundled validation views (3 held-out panoramas, 8 views each, auto-exposure key 0.18, no JPEG) are
rendered at ``--size`` pixels (default 512: the field of view of the 128-px training views, 4x the
pixels, as a larger photo of the same scene) and reconstructed by a model at full resolution and at each
``--work-sizes`` (:func:`hdrsyn.inference.guided_stack`), next to x^2.2 and the analytic exposure
stack merged by the HDR layer. Prints and writes a markdown table of PU21-PSNR, mu-PSNR (as ``lightning
test``) and seconds per image.

    python -m bench.studies.work_size --ckpt runs/release/joint/checkpoints/last.ckpt -o reports/sample/work_size.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tqdm import tqdm

from bench.studies.scoring import score, table_rows
from bench.tables import write_report
from datamodules.sample import SampleDataset
from hdrsyn.model_registry import load_reconstructor
from hdrsyn.pretrained import pretrained_path


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
    methods = {"x^2.2": None, "analytic stack": None, "model, full size": None,
               **{f"model, work size {w}": w for w in args.work_sizes}}
    table: dict[str, list[dict]] = {m: [] for m in methods}
    for index in tqdm(range(len(data)), desc=f"{args.size}-px views"):
        sample = data[index]
        for method, work in methods.items():
            table[method].append(score(method, model, sample["ldr"], sample["hdr"][None], work_size=work))
    rows = [f"Held-out views rendered at {args.size} px ({len(data)} views), model {args.ckpt or 'the packaged ' + pretrained_path().name}. "
            "Mean over the views.", "", *table_rows(table, ["pu21", "mu", "s"])]
    write_report("\n".join(rows) + "\n", args.output)


if __name__ == "__main__":
    main()
