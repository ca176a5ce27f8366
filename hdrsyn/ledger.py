"""The ledger of an output folder: which files our commands wrote there, so that ``--overwrite`` replaces
earlier outputs and never a file of the user's that happens to be named like one (a real ``scene_ev+1.png``).

Used by ``hdrsyn reconstruct`` (:mod:`hdrsyn.inference`) and ``hdrsyn merge`` (:mod:`hdrsyn.bracket`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path


#: The file in an output folder that lists the outputs written there: one JSON line per file (name, size,
#: sha256), so that ``--overwrite`` can tell them from files it must not replace.
LEDGER_NAME = ".hdrsyn-outputs"


def _stamp(path: Path) -> dict[str, int | str]:
    """What the ledger records of ``path``: name, size and content hash (so a copied or touched output is
    still recognised, and an edited one is not)."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return {"name": path.name, "size": path.stat().st_size, "sha256": digest.hexdigest()}


def record_outputs(paths: Iterable[Path]) -> None:
    """Append ``paths`` (just written) to their folders' ledgers (:data:`LEDGER_NAME`), one line per file."""
    for path in paths:
        with (path.parent / LEDGER_NAME).open("a", encoding="utf-8") as ledger:
            ledger.write(json.dumps(_stamp(path)) + "\n")


def foreign_files(paths: Iterable[Path]) -> list[Path]:
    """The existing ``paths`` that no run recorded as written by it, or that changed since: not ours to replace.

    Example:
        >>> import tempfile
        >>> folder = Path(tempfile.mkdtemp())
        >>> (folder / "a_preview.png").write_bytes(b"ours"); (folder / "a_ev+1.png").write_bytes(b"a photo")
        4
        7
        >>> record_outputs([folder / "a_preview.png"])
        >>> [p.name for p in foreign_files([folder / "a_preview.png", folder / "a_ev+1.png", folder / "a.exr"])]
        ['a_ev+1.png']
    """
    recorded: dict[Path, dict] = {}
    foreign = []
    for path in paths:
        if not path.exists():
            continue
        if path.parent not in recorded:
            ledger = path.parent / LEDGER_NAME
            lines = ledger.read_text(encoding="utf-8").splitlines() if ledger.is_file() else []
            entries = [json.loads(line) for line in lines if line.strip().startswith("{")]
            recorded[path.parent] = {entry.get("name"): entry for entry in entries}
        if recorded[path.parent].get(path.name) != _stamp(path):
            foreign.append(path)
    return foreign


def check_replaceable(paths: Iterable[Path], overwrite: bool) -> None:
    """With ``overwrite``, raise ``FileExistsError`` naming the existing ``paths`` no run wrote
    (:func:`foreign_files`): ``--overwrite`` replaces earlier outputs, never a file of the user's."""
    foreign = foreign_files(paths) if overwrite else []
    if foreign:
        raise FileExistsError(f"refusing to replace {', '.join(map(str, foreign))}: not written by an earlier "
                              "hdrsyn run, or changed since (a photo of yours?); move it or choose another -o")
