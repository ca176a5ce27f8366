"""Our LightningCLI (``lightning fit|validate|test|predict``), kept apart so the tools start without Lightning."""

from __future__ import annotations

import fcntl
import os
import sys
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from jsonargparse import ArgumentError
from pytorch_lightning import LightningDataModule, LightningModule, Trainer
from pytorch_lightning.callbacks import ModelCheckpoint
from pytorch_lightning.cli import LightningArgumentParser, LightningCLI, SaveConfigCallback

from hdrsyn.errors import MissingFileError, UsageError, usage_error
from hdrsyn.model_registry import class_path_of
from hdrsyn.provenance import data_fingerprint, git_state
from lightning_modules.callbacks import StageCheckpoint
from lightning_modules.diffhdrsyn import JointStage

#: The class paths configs name the joint stage and the checkpoint callback by.
JOINT_STAGE, CHECKPOINT_CALLBACK = class_path_of(JointStage), class_path_of(StageCheckpoint)


def with_base_configs(args: Sequence[str]) -> list[str]:
    """``args`` with each ``--config FILE`` preceded by the configs FILE composes (its ``config:`` key).

    An experiment starts with ``config: base.yaml`` (a path relative to the experiment's folder) and keeps
    only what differs from it. jsonargparse reads that key too, but inside one file a section (``trainer:``)
    replaces the base's whole section; given first on the command line, the base is merged key by key, as
    ``--config a.yaml --config b.yaml`` always is.

    Example:
        >>> with_base_configs(["fit", "--trainer.max_steps", "3"])
        ['fit', '--trainer.max_steps', '3']
    """
    expanded: list[str] = []
    index = 0
    while index < len(args):
        arg = args[index]
        value = None
        if arg in ("--config", "-c") and index + 1 < len(args):
            value, index = args[index + 1], index + 1
        elif arg.startswith("--config="):
            value = arg.partition("=")[2]
        if value is None:
            expanded.append(arg)
        else:
            expanded += [item for base in _bases(Path(value)) for item in ("--config", str(base))]
            expanded += ["--config", value]
        index += 1
    return expanded


def _bases(path: Path, seen: tuple[Path, ...] = ()) -> list[Path]:
    """The configs ``path`` composes, recursively, outermost first (none for YAML text given inline).

    A config file that is missing, not YAML or not a mapping of sections is a
    :class:`~hdrsyn.errors.UsageError` naming it."""
    if path.suffix.lower() not in (".yaml", ".yml"):
        return []
    if path.resolve() in seen:
        raise UsageError(f"{path}: its 'config:' entries include it again ({' -> '.join(map(str, seen))})")
    content = read_config(path)
    bases = content.get("config", [])
    found: list[Path] = []
    for base in [bases] if isinstance(bases, str) else bases:
        base_path = path.parent / base
        if not base_path.is_file():
            raise MissingFileError(f"{path}: config: {base} does not exist (looked for {base_path})")
        found += [*_bases(base_path, (*seen, path.resolve())), base_path]
    return found


def read_config(path: Path) -> dict:
    """The mapping in the config file ``path``; a missing file, a YAML syntax error or a file that is not a
    mapping of sections (``trainer:``, ``model:``, ...) is a :class:`~hdrsyn.errors.UsageError` naming it."""
    if not path.is_file():
        what = "is a folder, not a config file" if path.is_dir() else "does not exist"
        raise MissingFileError(f"--config {path} {what}")
    try:
        content = yaml.safe_load(path.read_text())
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = "" if mark is None else f" at line {mark.line + 1}, column {mark.column + 1}"
        problem = getattr(error, "problem", None) or error
        raise UsageError(f"{path}: not valid YAML{where}: {problem}") from None
    except (UnicodeDecodeError, OSError) as error:
        raise UsageError(f"{path}: cannot be read as a YAML text file ({error})") from None
    if not isinstance(content, dict):
        got = "nothing" if content is None else f"{type(content).__name__} {content!r}"[:60]
        raise UsageError(f"{path}: a config must be a mapping of sections (trainer:, model:, data:, ...), got {got}")
    return content


def one_line_argument_error(message: str) -> str:
    r"""jsonargparse's several-line message about an argument as one line: the key as its ``--option``, and
    for a ``class_path`` that cannot be used, why.

    Example:
        >>> one_line_argument_error('Parser key "trainer.max_steps":\n  Expected a <class \'int\'>. Got value: abc')
        "--trainer.max_steps: Expected a <class 'int'>. Got value: abc"
    """
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    head = lines[0]
    key = head.removeprefix("Parser key ").strip('":') if head.startswith("Parser key ") else None
    if key is None:
        return " ".join(lines)
    class_paths = [i for i, line in enumerate(lines) if line.startswith("- Problem with given class_path")]
    if class_paths:
        at = class_paths[0]
        given = lines[at].removeprefix("- Problem with given ").rstrip(":")
        return f"--{key}: {given}: {lines[at + 1] if at + 1 < len(lines) else 'cannot be used'}"
    return f"--{key}: {' '.join(lines[1:])}"


class HDRSynCLI(LightningCLI):
    """LightningCLI in which ``--config`` and the command line alone define the model.

    Since Lightning 2.5.5, ``--ckpt_path`` re-parses the checkpoint's saved hyperparameters over the
    configuration, which silently overrides what the user asked for (e.g. ``output_dir`` of a test run,
    a moved ``global_ckpt`` on resume) and can even swap the model class between stages. Weights and
    trainer state still come from the checkpoint.

    A class that refuses its configured arguments (an unknown width, a missing stage checkpoint) is a
    configuration error: it is re-raised as a :class:`~hdrsyn.errors.UsageError` with the class's own message.
    """

    def _parse_ckpt_path(self) -> None:
        return

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument("--overwrite", action="store_true",
                            help="fit: start over in a run folder that holds an earlier fit's checkpoints (removes them)")

    def instantiate_classes(self) -> None:
        try:
            super().instantiate_classes()
        except Exception as error:  # noqa: BLE001 - jsonargparse wraps what the classes raise
            cause = error
            while cause.__cause__ is not None:
                cause = cause.__cause__
            raise UsageError(f"bad configuration: {cause}") from error

    def before_instantiate_classes(self) -> None:
        """Fill in the run folder where the config leaves it to ``trainer.default_root_dir``
        (:meth:`fill_run_folders`); ``predict`` with the joint stage and no ``--ckpt_path`` uses the
        packaged model (``pretrained: default``, no stage hand-off), so it works on a fresh install."""
        self.fill_run_folders(self.config[self.subcommand] if self.subcommand else self.config)
        if self.subcommand != "predict":
            return
        config = self.config["predict"]
        model = config.get("model")
        if config.get("ckpt_path") is not None or getattr(model, "class_path", None) != JOINT_STAGE:
            return
        arguments = model.init_args
        if arguments.get("pretrained") is None:
            arguments.pretrained = "default"
            arguments.global_ckpt = arguments.local_ckpt = None
            print("hdrsyn predict: no --ckpt_path: using the packaged model (hdrsyn/assets/models/MODEL.md)",
                  file=sys.stderr)

    @staticmethod
    def fill_run_folders(config: Any) -> None:
        """A logger's ``save_dir`` and a :class:`~lightning_modules.callbacks.StageCheckpoint`'s ``dirpath``
        left unset become ``<default_root_dir>`` and ``<default_root_dir>/checkpoints``, so an experiment
        names its run folder once."""
        trainer = config.get("trainer")
        root = None if trainer is None else trainer.get("default_root_dir")
        if root is None:
            return
        logger = trainer.get("logger")
        for item in logger if isinstance(logger, list) else [logger]:
            arguments = getattr(item, "init_args", None)
            if arguments is not None and "save_dir" in arguments and arguments.get("save_dir") in (None, "."):
                arguments.save_dir = root
        for callback in trainer.get("callbacks") or []:
            is_stage_checkpoint = getattr(callback, "class_path", None) == CHECKPOINT_CALLBACK
            if is_stage_checkpoint and callback.init_args.get("dirpath") is None:
                callback.init_args.dirpath = str(Path(root) / "checkpoints")

    def _run_subcommand(self, subcommand: str) -> None:
        check_ckpt_path(self.config_init[subcommand].get("ckpt_path"))
        super()._run_subcommand(subcommand)


def check_ckpt_path(ckpt_path: str | None) -> None:
    """Refuse a local ``--ckpt_path`` that is missing or not a checkpoint (a truncated one has no zip directory).

    Lightning's keywords (``last``, ``best``, ``hpc``, ``registry...``) and remote URLs are left to Lightning.
    """
    text = str(ckpt_path)
    if ckpt_path is None or text in ("last", "best", "hpc") or text.startswith("registry") or "://" in text:
        return
    path = Path(text)
    if not path.is_file():
        raise MissingFileError(f"--ckpt_path={str(path)!r} does not exist")
    if not zipfile.is_zipfile(path):
        raise UsageError(f"--ckpt_path={str(path)!r} is truncated or not a checkpoint; use another checkpoint")


class LogRunInfo(SaveConfigCallback):
    """Saves ``config.yaml`` to the log directory (as Lightning's callback) and logs to the run's logger
    the resolved config (``model``, ``data``, ``trainer``, ... as sections), the ``command`` (``fit``,
    ``test``, ...), the code's ``git`` commit and a ``data_fingerprint``
    (:mod:`hdrsyn.provenance`). Rank 0 only.

    Before it writes anything, rank 0 claims the run's folders (:func:`claim_run_folders`) until the
    command ends: a second command writing into them meanwhile is refused, and so is a fresh ``fit`` into
    a checkpoint folder that holds an earlier fit's checkpoints (unless ``--overwrite``)."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if not self.already_saved:
            folders = [Path(trainer.log_dir or trainer.default_root_dir)]  # trainer.log_dir is collective
            problem = None
            if trainer.is_global_zero:
                fresh_fit = (stage == "fit" and self.config.get("ckpt_path") is None and not trainer.fast_dev_run)
                checkpoints = [Path(cb.dirpath) for cb in trainer.checkpoint_callbacks
                               if isinstance(cb, ModelCheckpoint) and cb.dirpath is not None
                               and Path(cb.dirpath).is_dir()]
                problem = self._claim(folders + checkpoints, checkpoints if fresh_fit else [])
            problem = trainer.strategy.broadcast(problem)
            if problem is not None:
                self.release()
                raise UsageError(problem)
        super().setup(trainer, pl_module, stage)

    def _claim(self, folders: list[Path], fresh: list[Path]) -> str | None:
        """Claim ``folders`` for this process and check that the ``fresh`` checkpoint folders hold no
        checkpoint (removing them with ``--overwrite``); the reason to refuse, or None."""
        try:
            self._claimed = claim_run_folders(folders)
            for folder in fresh:
                found = sorted(folder.glob("*.ckpt"))
                if found and not self.config.get("overwrite"):
                    names = ", ".join(path.name for path in found[:3]) + (", ..." if len(found) > 3 else "")
                    return (f"{folder} holds the checkpoints of an earlier fit ({names}); continue it with "
                            "--ckpt_path last, start over with --overwrite (removes them), or fit into another "
                            "--trainer.default_root_dir")
                for path in found:
                    path.unlink()
        except UsageError as error:
            return str(error)
        return None

    def release(self) -> None:
        """Release the run's folders."""
        for fd in getattr(self, "_claimed", []):
            os.close(fd)
        self._claimed = []

    def teardown(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        self.release()

    def on_exception(self, trainer: Trainer, pl_module: LightningModule, exception: BaseException) -> None:
        self.release()

    def save_config(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        if trainer.logger is None:
            return
        config = yaml.safe_load(self.parser.dump(self.config, skip_none=False))
        command = getattr(stage, "value", stage)  # Lightning passes its TrainerFn ("fit", "test", ...)
        trainer.logger.log_hyperparams({**config, "command": str(command), "git": git_state(),
                                        "data_fingerprint": data_fingerprint(trainer.datamodule)})


#: The lock file a run holds in its run folder (a POSIX record lock: released when the process ends,
#: even killed, and not inherited by the data-loading workers it forks, which may outlive it briefly).
RUN_LOCK_NAME = ".hdrsyn-run.lock"


def claim_run_folders(folders: Sequence[Path]) -> list[int]:
    """Take an exclusive, non-blocking lock on :data:`RUN_LOCK_NAME` in each folder (created if missing; a
    folder inside another one of ``folders`` is covered by that one's lock) and return the open descriptors (closing one releases it; the system releases them when the process ends).

    Raises :class:`~hdrsyn.errors.UsageError` naming a folder that another process holds."""
    held: list[int] = []
    resolved = list(dict.fromkeys(path.resolve() for path in folders))
    for folder in [f for f in resolved if not any(o != f and o in f.parents for o in resolved)]:  # outermost
        folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(folder / RUN_LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EACCES or EAGAIN: another process holds it
            for other in [fd, *held]:
                os.close(other)
            raise UsageError(f"{folder} is in use by another run writing there; wait for it to end or "
                             "choose another --trainer.default_root_dir") from None
        held.append(fd)
    return held


def own_wandb_service() -> None:
    """Make W&B start this process's own service instead of joining one inherited from the parent process.

    A process with a live W&B run (a notebook, a script, a test session) passes its service to the
    commands it starts (``WANDB_SERVICE``); a run of ours would then be written by a service that resolves
    the run folder against the *parent's* working directory (``runs/<stage>/wandb/...`` ends up elsewhere
    or nowhere) and that our exit does not wait for."""
    os.environ.pop("WANDB_SERVICE", None)


def finish_wandb_run(exit_code: int = 0) -> None:
    """Finish the live W&B run, if any, so that the next ``WandbLogger`` in this process starts its own run
    (a ``WandbLogger`` otherwise reuses a live run: every stage of ``hdrsyn pipeline`` would land in one), and
    shut the W&B service down: it returns once the service has exited, so the run's files are complete."""
    wandb = sys.modules.get("wandb")
    if wandb is None:
        return
    if wandb.run is not None:
        wandb.finish(exit_code=exit_code)
    wandb.teardown()


def run(args: Sequence[str] | None = None) -> None:
    """Run :class:`HDRSynCLI` with ``args`` (default: ``sys.argv[1:]``) as one W&B run, finished at the end.

    The resolved config is saved next to the logs (replacing the one of an earlier run in the same
    directory) and logged with the run (:class:`LogRunInfo`). W&B is offline-first: without
    ``WANDB_MODE`` set, runs are written locally (``wandb sync`` uploads them later).

    A :class:`~hdrsyn.errors.UsageError` (bad configuration, checkpoint or dataset), before or during the
    run, ends the command with its message alone and exit status 2."""
    os.environ.setdefault("WANDB_MODE", "offline")
    own_wandb_service()
    args = list(args) if args is not None else sys.argv[1:]
    command = args[:1]
    warnings.filterwarnings("ignore", message="LightningCLI's args parameter is intended to run from within Python")
    try:
        HDRSynCLI(
            LightningModule,
            LightningDataModule,
            subclass_mode_model=True,
            subclass_mode_data=True,
            args=with_base_configs(args),
            save_config_callback=LogRunInfo,
            save_config_kwargs={"overwrite": True},
            parser_kwargs={"exit_on_error": False},
        )
    except BaseException as error:
        finish_wandb_run(exit_code=1)
        if isinstance(error, ArgumentError):
            error = UsageError(one_line_argument_error(str(error)))
        cause = usage_error(error) if isinstance(error, Exception) else None
        if cause is None:
            raise
        print(f"hdrsyn {' '.join(command)}: error: {cause}", file=sys.stderr)
        raise SystemExit(2) from None
    finish_wandb_run()
