"""Errors that are the user's to fix (a bad argument, file or dataset); the command lines print their message alone."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn


class UsageError(ValueError):
    """A bad argument, input file or dataset; the message names it and says what to do."""


class MissingFileError(UsageError, FileNotFoundError):
    """A file or folder named by an argument does not exist."""


def find_cause(error: BaseException, match: Callable[[BaseException], bool]) -> BaseException | None:
    """The first of ``error`` and its ``__cause__`` / ``__context__`` chain for which ``match`` is true, or None.

    Example:
        >>> try:
        ...     try:
        ...         raise KeyError("inner")
        ...     except KeyError as inner:
        ...         raise RuntimeError("outer") from inner
        ... except RuntimeError as outer:
        ...     find_cause(outer, lambda e: isinstance(e, KeyError))
        KeyError('inner')
    """
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        if match(current):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def usage_error(error: BaseException) -> UsageError | None:
    """The :class:`UsageError` that caused ``error`` (itself, or one in its ``__cause__`` / ``__context__`` chain)."""
    cause = find_cause(error, lambda current: isinstance(current, UsageError))
    return cause if isinstance(cause, UsageError) else None


class ArgumentParser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` whose errors are one line, ``PROG: error: MESSAGE (see PROG --help)``, exit 2,
    instead of the usage block followed by the message."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see {self.prog} --help)\n")
