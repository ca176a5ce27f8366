"""``usage_error`` finds the user's error however deep a library wrapped it."""

from __future__ import annotations

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
