"""Command-line entry points: ``lightning`` / ``hdrsyn`` / ``python -m hdrsyn``.

``lightning fit|validate|test|predict --config X.yaml`` runs our LightningCLI (any LightningModule
and LightningDataModule given by ``class_path``). ``hdrsyn`` accepts the same four subcommands plus the
tools below; it is the collision-proof name, since another package may install a ``lightning`` script.

The CLI wing, the top layer: every entry point and ``main()`` lives in this package (one module per tool,
:data:`TOOLS`; :mod:`.lightning` for the Lightning subcommands), on the library modules that do the work;
no module outside it imports it. It is the one place that names the model packages
(:data:`MODEL_PACKAGES`, given to :func:`hdrsyn.model_registry.register_model_packages`).
"""

from __future__ import annotations

import errno
import importlib
import os
import sys
from collections.abc import Callable, Sequence

from hdrsyn.errors import ArgumentParser

#: The packages whose modules define the models a checkpoint may hold: given to the model registry
#: (:func:`hdrsyn.model_registry.register_model_packages`) before a command runs.
MODEL_PACKAGES = ("lightning_modules",)

LIGHTNING_SUBCOMMANDS = ("fit", "validate", "test", "predict")

TOOLS = {
    "pipeline": ("pipeline", "run the paper's three training stages and a test pass"),
    "compare": ("compare", "one table and bar chart from several runs' test summaries"),
    "reconstruct": ("reconstruct", "single photos -> exposure stack -> HDR with the packaged model or a checkpoint"),
    "package-model": ("package_model", "package a trained joint-stage checkpoint as a model of this installation"),
    "export": ("export_onnx", "export the stack generator to ONNX"),
    "merge": ("merge_brackets", "merge a bracketed stack of photos into an HDR file"),
    "make-dataset": ("make_dataset", "render a VDS-layout dataset from a folder of HDR photos"),
}
"""The non-Lightning subcommands: name -> (module in ``hdrsyn.cli`` with ``main(argv) -> exit code``, help).

Only the module of the command that runs is imported, so the tools that do not need Lightning
(``merge``, ``compare``, ``export``, ``reconstruct``) start without it: ``hdrsyn merge --help`` takes
2.7 s instead of 6.0 s on a 2-core CPU."""


#: Set (to anything) to see the traceback of an error instead of its one-line message.
DEBUG_VARIABLE = "HDRSYN_DEBUG"


def lightning_main(args: Sequence[str] | None = None) -> None:
    """``lightning`` entry point: our LightningCLI (see :mod:`hdrsyn.cli.lightning`) with ``args``."""
    from hdrsyn.cli.lightning import run

    use_model_packages()
    argv = list(sys.argv[1:] if args is None else args)
    code = one_line_errors(f"lightning {' '.join(argv[:1])}".strip(), lambda: run(argv) or 0)
    if code:
        raise SystemExit(code)


def use_model_packages() -> None:
    """Give :data:`MODEL_PACKAGES` to the model registry (imported here, not at start: ``hdrsyn --help`` stays
    without torch)."""
    from hdrsyn.model_registry import register_model_packages

    register_model_packages(MODEL_PACKAGES)


def one_line_errors(prog: str, command: Callable[[], int]) -> int:
    """Run ``command`` and return its exit status; what it lets escape becomes one line on stderr.

    Ctrl-C: "interrupted", status 130 (the commands write their outputs all or nothing, so nothing is left
    half-written). A bad argument, file or value (``ValueError``, ``TypeError``, ``OSError``, which name
    it): its message, status 2. Anything else is a bug: its type and message, status 1. With the
    environment variable ``HDRSYN_DEBUG`` set, errors keep their traceback.

    Example:
        >>> one_line_errors("hdrsyn demo", lambda: int("x"))
        2
    """
    try:
        return command()
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as error:  # noqa: BLE001 - the last line of defence of a command line
        if os.environ.get(DEBUG_VARIABLE):
            raise
        usage = isinstance(error, (ValueError, TypeError, OSError))
        print(f"{prog}: error: {describe(error)}"
              + ("" if usage else f" (an internal error: set {DEBUG_VARIABLE}=1 for the traceback)"), file=sys.stderr)
        return 2 if usage else 1


def describe(error: BaseException) -> str:
    """One line for ``error``: a full disk names its folder, a missing file its path.

    Example:
        >>> describe(OSError(errno.ENOSPC, "No space left on device", "/data/run/last.ckpt"))
        'no space left on /data/run (writing /data/run/last.ckpt)'
    """
    if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT) and error.filename:
        path = os.fspath(error.filename)
        return f"no space left on {os.path.dirname(path) or '.'} (writing {path})"
    text = str(error) or type(error).__name__
    if isinstance(error, OSError) and error.filename and os.fspath(error.filename) not in text:
        text = f"{error.filename}: {text}"
    return " ".join(text.split())


def main(argv: Sequence[str] | None = None) -> int:
    """``hdrsyn`` entry point: a Lightning subcommand or one of the tools."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in LIGHTNING_SUBCOMMANDS:
        lightning_main(argv)
        return 0
    if not argv or argv[0] not in TOOLS:
        parser = ArgumentParser(prog="hdrsyn", description=__doc__.splitlines()[0])
        choices = [*LIGHTNING_SUBCOMMANDS, *TOOLS]
        parser.add_argument("command", choices=choices, help="; ".join(f"{k}: {v[1]}" for k, v in TOOLS.items()))
        if argv and argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
            parser.error(f"unknown option {argv[0]}: the first argument is a command ({', '.join(choices)})")
        parser.parse_args(argv[:1])
        return 2
    use_model_packages()
    return one_line_errors(f"hdrsyn {argv[0]}",
                           lambda: importlib.import_module(f"{__name__}.{TOOLS[argv[0]][0]}").main(argv[1:]))
