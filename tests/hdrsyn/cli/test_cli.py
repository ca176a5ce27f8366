"""Entry points: ``lightning`` and ``hdrsyn`` resolve to our CLI; ``python -m hdrsyn`` works."""

from __future__ import annotations

import errno
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from hdrsyn.cli import DEBUG_VARIABLE, MODEL_PACKAGES, main


def test_lightning_entry_point_is_ours() -> None:
    """Another package (e.g. ``lightning``) may install a ``lightning`` script: ours must be the one declared."""
    scripts = {ep.name: ep for ep in entry_points(group="console_scripts") if ep.name in ("lightning", "hdrsyn")}
    assert scripts["lightning"].value == "hdrsyn.cli:lightning_main"
    assert scripts["hdrsyn"].value == "hdrsyn.cli:main"
    installed = shutil.which("lightning", path=str(Path(sys.executable).parent))
    assert installed is not None, "the lightning script is not installed next to this interpreter"
    assert "hdrsyn.cli" in Path(installed).read_text(), f"{installed} is not hdrsyn's lightning script"


@pytest.mark.parametrize("command", [["lightning", "fit", "--help"], [sys.executable, "-m", "hdrsyn", "fit", "--help"]])
def test_lightning_cli_help(command: list[str]) -> None:
    if command[0] == "lightning":
        command[0] = str(Path(sys.executable).parent / "lightning")
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "--config" in result.stdout and "--trainer" in result.stdout and "--model" in result.stdout


def test_unknown_tool_exits_with_usage(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-tool"])
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err


@pytest.mark.parametrize(("override", "named"), [("--model.init_args.widht=tiny", "widht"),
                                                 ("--model.init_args.lr=abc", "lr"),
                                                 ("--trainer.max_stepz=3", "max_stepz")])
def test_bad_configuration_fails_before_training(override: str, named: str) -> None:
    """Unknown keys and wrong types stop at parse time with a message naming the key."""
    root = Path(__file__).resolve().parents[3]
    result = subprocess.run([sys.executable, "-m", "hdrsyn", "fit", "--config", "experiments/global.yaml", override],
                            cwd=root, capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    assert named in result.stderr and "Epoch" not in result.stderr


def test_tools_start_without_lightning() -> None:
    """A tool imports only its own module: ``hdrsyn merge`` must not pay for importing Lightning."""
    code = (
        "import sys\n"
        "from hdrsyn.cli import main\n"
        "try:\n    main(['merge', '--help'])\nexcept SystemExit:\n    pass\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytorch_lightning', 'lightning')))\n"
        "print('hdrsyn.cli.merge_brackets' in sys.modules, 'hdrsyn.cli.reconstruct' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-2:] == ["[]", "True False"], result.stdout


def _tool_raising(monkeypatch: pytest.MonkeyPatch, error: BaseException) -> None:
    """Make ``hdrsyn merge`` raise ``error`` from inside the tool."""
    import hdrsyn.cli.merge_brackets

    def fail(argv: list[str]) -> int:
        raise error

    monkeypatch.setattr(hdrsyn.cli.merge_brackets, "main", fail)
    monkeypatch.delenv(DEBUG_VARIABLE, raising=False)


def test_ctrl_c_is_one_line_and_status_130(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    _tool_raising(monkeypatch, KeyboardInterrupt())
    assert main(["merge", "a.png"]) == 130
    assert capsys.readouterr().err == "hdrsyn merge: interrupted\n"


@pytest.mark.parametrize(("error", "status", "line"), [
    (ValueError("--ev: 2 images but 3 values"), 2, "hdrsyn merge: error: --ev: 2 images but 3 values"),
    (FileNotFoundError(2, "No such file or directory", "stack/a.png"), 2,
     "hdrsyn merge: error: [Errno 2] No such file or directory: 'stack/a.png'"),
    (OSError(errno.ENOSPC, "No space left on device", "/out/a.exr"), 2,
     "hdrsyn merge: error: no space left on /out (writing /out/a.exr)"),
    (KeyError("levels"), 1, "hdrsyn merge: error: 'levels' (an internal error: set HDRSYN_DEBUG=1 for the traceback)"),
], ids=["value", "missing-file", "disk-full", "bug"])
def test_escaping_errors_are_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
                                      error: Exception, status: int, line: str) -> None:
    """Whatever a tool lets escape is one line naming what it names, no traceback: 2 for the user's input, 1 for a bug."""
    _tool_raising(monkeypatch, error)
    assert main(["merge", "a.png"]) == status
    assert capsys.readouterr().err == line + "\n"


def test_debug_variable_keeps_the_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    _tool_raising(monkeypatch, KeyError("levels"))
    monkeypatch.setenv(DEBUG_VARIABLE, "1")
    with pytest.raises(KeyError, match="levels"):
        main(["merge", "a.png"])


def test_lightning_ctrl_c_is_one_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    import hdrsyn.cli.lightning

    def interrupted(args: list[str]) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(hdrsyn.cli.lightning, "run", interrupted)
    with pytest.raises(SystemExit) as exit_info:
        main(["fit", "--config", "x.yaml"])
    assert exit_info.value.code == 130
    assert capsys.readouterr().err == "lightning fit: interrupted\n"


def test_the_cli_gives_the_model_packages_to_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI wing is the one place that names the model packages; a tool that runs has them registered."""
    import hdrsyn.cli.merge_brackets
    from hdrsyn import model_registry

    monkeypatch.setattr(model_registry, "_registered_packages", [])
    monkeypatch.setattr(hdrsyn.cli.merge_brackets, "main", lambda argv: 0)
    assert main(["merge"]) == 0
    assert model_registry._registered_packages == list(MODEL_PACKAGES)


def test_an_option_in_place_of_the_command_is_named(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--bogus"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.startswith("hdrsyn: error: unknown option --bogus: the first argument is a command")
