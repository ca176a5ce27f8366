"""Doctests of the library folders (``--doctest-modules``, see pyproject.toml): skip the examples of a module
whose optional package is not installed (``pip install -e '.[dev]'`` installs them all)."""

from __future__ import annotations

import importlib.util

import pytest

#: Module whose examples need an optional package -> that package's import name.
OPTIONAL_PACKAGES = {"hdrsyn/metrics/colorvideovdp.py": "pycvvdp"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the doctests of :data:`OPTIONAL_PACKAGES` modules as skipped when their package is missing."""
    for path, package in OPTIONAL_PACKAGES.items():
        if importlib.util.find_spec(package) is None:
            skip = pytest.mark.skip(reason=f"needs the optional package {package!r}")
            for item in items:
                if item.nodeid.startswith(f"{path}::"):
                    item.add_marker(skip)
