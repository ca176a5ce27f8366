"""``usage_error`` finds the user's error however deep a library wrapped it; argument errors are one line."""

from __future__ import annotations

import pytest

from hdrsyn.cli import main
from hdrsyn.errors import MissingFileError, UsageError, usage_error


def test_usage_error_is_found_through_causes_and_contexts() -> None:
    cause = MissingFileError("global_ckpt='x.ckpt' does not exist")
    try:
        try:
            raise cause
        except UsageError as error:
            raise ValueError("Does not validate against any of the Union subtypes") from error
    except ValueError:
        try:
            raise RuntimeError("teardown failed")  # raised while handling: only __context__ links it
        except RuntimeError as outer:
            assert usage_error(outer) is cause and isinstance(cause, FileNotFoundError)
    assert usage_error(ValueError("a bug, not the user's")) is None


@pytest.mark.parametrize(("tool", "argv", "message"), [
    ("merge", ["a.png", "--ev", "x"], "hdrsyn merge: error: argument --ev: invalid float value: 'x'"),
    ("export", ["--ckpt", "m.ckpt"], "hdrsyn export: error: the following arguments are required: -o/--output"),
    ("package-model", ["m.ckpt", "--name", "x", "--replcae"], "hdrsyn package-model: error: unrecognized arguments: --replcae"),
    ("make-dataset", ["src", "out", "--size", "abc"], "hdrsyn make-dataset: error: argument --size: invalid int value"),
])
def test_argument_syntax_errors_are_one_line(tool: str, argv: list[str], message: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    """argparse's usage block is replaced by one line that names the argument and points at --help."""
    with pytest.raises(SystemExit) as exit_info:
        main([tool, *argv])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.endswith(f"(see hdrsyn {tool} --help)\n") and err.count("\n") == 1, err
