"""The layers import only downwards: ``ops`` < ``losses`` < ``hdrsyn`` library < ``datamodules`` <
``lightning_modules`` < the CLI wing < ``bench`` (see each package's ``__init__``; ``bench`` is not
installed, so nothing below it may import it). The CLI wing is everything under ``hdrsyn.cli`` and the
``__main__`` module that ``python -m hdrsyn`` runs. Read from the source: every import statement of every
module, function-level ones included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Layer of each top-level package; the CLI wing of ``hdrsyn`` is a layer of its own, above all others but
#: ``bench``.
LAYERS = {"ops": 1, "losses": 2, "hdrsyn": 3, "datamodules": 4, "lightning_modules": 5, "bench": 7}
CLI_WING = "hdrsyn.cli"
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
    if module == CLI_WING or module.startswith(f"{CLI_WING}.") or module.rpartition(".")[2] == "__main__":
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
    assert layer("hdrsyn.cli.lightning") == layer("hdrsyn.__main__") == CLI_LAYER > layer("lightning_modules")
    assert upward_imports(graph) == []


def test_the_check_sees_an_upward_import() -> None:
    graph = {"hdrsyn.cli.make_dataset": {"datamodules.vds", "lightning_modules.diffhdrsyn"},
             "lightning_modules.joint_stage": {"hdrsyn.cli.reconstruct"},
             "hdrsyn.model_registry": {"lightning_modules.joint_stage", "hdrsyn.cli"},
             "hdrsyn.bracket": {"hdrsyn.cli.merge_brackets"}, "losses.hdr": {"ops.tonemap"}}
    assert upward_imports(graph) == ["lightning_modules.joint_stage -> hdrsyn.cli.reconstruct",
                                     "hdrsyn.model_registry -> hdrsyn.cli",
                                     "hdrsyn.model_registry -> lightning_modules.joint_stage",
                                     "hdrsyn.bracket -> hdrsyn.cli.merge_brackets"]
