"""``hdrsyn pipeline``: the paper's whole recipe — global, local and joint stages, then test passes.

Each stage is ``lightning fit --config experiments/<stage>.yaml [overlays]``; the joint stage takes the
first two stages' ``last.ckpt`` through its config (``global_ckpt`` / ``local_ckpt``); the test pass
writes HDR outputs with the joint stage's last checkpoint (``<root>/test``), and a second one scores the
bundled sample's 6 test scenes, never trained, validated or chosen on (``<root>/test_scenes``;
``--no-test-scenes`` skips it, as a dataset other than the sample must). Each step is its own W&B run
(the CLI finishes the run before the next step starts). With ``resume``, each stage continues from its own ``last.ckpt``
(``--ckpt_path last``; a stage without one starts from scratch, a finished one stops at once), so an
interrupted pipeline is run again with the same command. Without it, a stage whose run folder holds an
earlier fit's checkpoints is refused, unless ``overwrite`` (start over: they are removed).
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from hdrsyn.cli import lightning_main
from hdrsyn.errors import ArgumentParser

STAGES = ("global", "local", "joint")


def run(
    experiments: Path,
    overlays: Sequence[Path],
    stages: Sequence[str] = STAGES,
    test: bool = True,
    resume: bool = False,
    test_scenes: bool = True,
    overwrite: bool = False,
) -> None:
    """Fit ``stages`` in order with their configs (plus ``overlays``), then test the joint stage on the held-out
    scenes and (``test_scenes``) on the sample's test scenes; with ``resume``, each fit continues from its
    stage's ``last.ckpt`` when there is one; with ``overwrite``, each fit starts over."""
    missing = [p for p in [*(experiments / f"{s}.yaml" for s in stages), *overlays] if not p.is_file()]
    if missing:
        raise FileNotFoundError(f"config file(s) not found: {', '.join(map(str, missing))}")
    extra = [arg for overlay in overlays for arg in ("--config", str(overlay))]
    for stage in stages:
        start = time.perf_counter()
        print(f"== hdrsyn pipeline: fit {stage} stage", flush=True)
        resume_args = ["--ckpt_path", "last"] if resume else ["--overwrite"] if overwrite else []
        lightning_main(["fit", "--config", str(experiments / f"{stage}.yaml"), *extra, *resume_args])
        print(f"== {stage} stage done in {time.perf_counter() - start:.0f} s", flush=True)
    if not test:
        return
    test_args = ["test", "--config", str(experiments / "joint.yaml"), *extra, "--ckpt_path", "last"]
    print("== hdrsyn pipeline: test the joint stage", flush=True)
    lightning_main(test_args)
    if test_scenes:
        print("== hdrsyn pipeline: test the joint stage on the sample's test scenes", flush=True)
        lightning_main([*test_args, "--data.init_args.test_split", "test"])


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn pipeline [--experiments DIR] [--overlay YAML ...] [--stages ...] [--no-test] [--resume | --overwrite]``."""
    parser = ArgumentParser(prog="hdrsyn pipeline", description=__doc__.splitlines()[0])
    parser.add_argument("--experiments", type=Path, default=Path("experiments"), help="folder of the stage configs")
    parser.add_argument("--overlay", type=Path, action="append", default=[], help="extra config applied to every stage")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--no-test", action="store_true", help="skip the final test passes")
    parser.add_argument("--no-test-scenes", action="store_true",
                        help="skip the test pass on the bundled sample's test scenes (for another dataset)")
    again = parser.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true",
                       help="continue each stage from its last.ckpt (after an interruption)")
    again.add_argument("--overwrite", action="store_true",
                       help="start each stage over, removing the checkpoints of an earlier run in its folder")
    args = parser.parse_args(argv)
    try:
        run(args.experiments, args.overlay, args.stages, not args.no_test, args.resume, not args.no_test_scenes,
            args.overwrite)
    except FileNotFoundError as error:
        print(f"hdrsyn pipeline: error: {error}", file=sys.stderr)
        return 2
    return 0
