"""The layers import only downwards: ``ops`` < ``losses`` < ``hdrsyn`` library < ``datamodules`` <
``lightning_modules`` < command-line tools < ``bench`` (see each package's ``__init__``; ``bench`` is not
installed, so nothing below it may import it). Read from the source: every import statement of every
module, function-level ones included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Layer of each top-level package; the ``hdrsyn`` tools below are a layer of their own, above all others but
#: ``bench`` (``hdrsyn.pretrained`` is library: its ``main`` is run by ``hdrsyn package-model`` but imports
#: nothing above).
LAYERS = {"ops": 1, "losses": 2, "hdrsyn": 3, "datamodules": 4, "lightning_modules": 5, "bench": 7}
CLI_MODULES = {f"hdrsyn.{name}" for name in ("cli", "__main__", "lightning_cli", "pipeline", "reconstruct", "merge",
                                             "export", "compare", "make_dataset")}
CLI_LAYER = 6


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> set[str]:
    """Absolute module names imported by ``path`` (``from a import b`` gives ``a`` and ``a.b``)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def layer(module: str) -> int | None:
    """The layer of a module of this project, None for other packages."""
    if module in CLI_MODULES or any(module.startswith(f"{cli}.") for cli in CLI_MODULES):
        return CLI_LAYER
    return LAYERS.get(module.split(".")[0])


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of this project it imports."""
    graph = {}
    for package in LAYERS:
        for path in sorted((ROOT / package).rglob("*.py")):
            graph[module_name(path)] = {m for m in imported_modules(path) if layer(m) is not None}
    return graph


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """``"a -> b"`` for every import of a higher layer (a command-line tool from below the tools included)."""
    found = []
    for module, imports in graph.items():
        for target in sorted(imports):
            if layer(target) > layer(module):
                found.append(f"{module} -> {target}")
    return found


def test_every_import_goes_down_the_layers() -> None:
    graph = import_graph()
    assert len(graph) > 80 and "hdrsyn.inference" in graph and "hdrsyn.vds_layout" in graph
    assert upward_imports(graph) == []


def test_the_check_sees_an_upward_import() -> None:
    graph = {"hdrsyn.make_dataset": {"datamodules.vds"}, "lightning_modules.joint_stage": {"hdrsyn.reconstruct"},
             "hdrsyn.model_registry": {"lightning_modules.joint_stage"}, "losses.hdr": {"ops.tonemap"}}
    assert upward_imports(graph) == ["lightning_modules.joint_stage -> hdrsyn.reconstruct",
                                     "hdrsyn.model_registry -> lightning_modules.joint_stage"]
