"""Scores on a real bracketed photograph that no training view comes from: Debevec's Memorial Church.

The 16 bundled exposures (one stop apart, 8-bit, from a real camera whose response none of our data
contains) give both references: each single exposure is an input, its real neighbours at +-1..3 stops are
the true stack, and the merge of all 16 by our HDR layer (:func:`ops.hdr_synthesis.synthesize_hdr`, uint8
path) is the HDR reference. Each model (``label=path``: a joint-stage or baseline checkpoint, or a
packaged model; ``packaged`` = the default packaged model; ``label=a.ckpt+b.ckpt``: the average of the
stacks of several stack models, merged once) reconstructs from each input in
``--inputs``; x^2.2 and the analytic exposure stack (merged by the same layer) are the references.
Stack PSNR per relative EV (stack models), PU21-PSNR and mu-PSNR of the HDR (protocol of ``lightning
test``), mean over the inputs. Prints and writes a markdown table.

    python -m bench.studies.real_stack packaged main=runs/joint/checkpoints/last.ckpt -o reports/release/memorial.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.studies.scoring import memorial_views, methods_or_exit, score, table_rows
from bench.tables import write_report
from hdrsyn.assets_index import memorial_stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", nargs="*", help="label=path, label=path+path (their stacks averaged), or 'packaged'")
    parser.add_argument("--inputs", type=int, nargs="+", default=[6, 7, 8, 9, 10, 11, 12],
                        help="indices (0 = shortest exposure) of the input exposures; need 3 on each side")
    parser.add_argument("-o", "--output", type=Path)
    args = parser.parse_args()
    last = len(memorial_stack()[0]) - 4  # three real exposures on each side of an input
    if any(not 3 <= i <= last for i in args.inputs):
        parser.error(f"--inputs must lie in [3, {last}]")
    methods = methods_or_exit(parser, args.models)
    views = memorial_views(args.inputs)
    table = {m: [score(m, model, *view) for view in views] for m, model in methods.items()}
    rows = [f"Memorial Church (real 8-bit exposures, one stop apart; inputs = exposures {args.inputs} of 0..15, "
            "shortest first). HDR reference: our merge of all 16. Mean over the inputs.", "", *table_rows(table)]
    write_report("\n".join(rows) + "\n", args.output)


if __name__ == "__main__":
    main()
