"""Which cross-room imports reach past a room's surface (issue 14).

A room's surface is its package (``sovra.data``, whose ``__init__`` exports lazily
through ``sovra._lazy``) plus the modules listed in ``PUBLIC_MODULES``: pure cores an
auditor's tools or the edges import on their own, so that importing them stays light.
``sovra.errors``, ``sovra.config``, ``sovra.instance`` and ``sovra.vocabulary`` are
not rooms. Imports only for type checking count too: they name the same internals.

Shared by ``tests/test_import_contract.py`` and ``benchmarks/structure_figures.py`` so the
figure and the test count the same thing.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "sovra"

# Modules below a room that other rooms may import directly, each for a reason.
PUBLIC_MODULES = frozenset({
    # Pure cores an offline verifier loads without the room's services.
    "sovra.ledger.merkle", "sovra.ledger.note", "sovra.data.classify",
    "sovra.transfer.verify", "sovra.threat.events",
    # The policy room's tables, mirrored by the Cedar schema.
    "sovra.policy.actions",
    # The assessment room is two rooms under one name; each subpackage is a surface
    # (tests/test_exported_members.py pins their exports) and the package exports nothing.
    "sovra.assessment.placement", "sovra.assessment.readiness",
})
# Packages whose every module is public: the store's schema, one module of tables per room
# (a room reads its own tables there, and migrations read them all).
PUBLIC_PACKAGES = ("sovra.store.tables.",)


@dataclass(frozen=True)
class Bypass:
    """One import of a room's internals from another room."""

    path: str  # relative to the repository root
    line: int
    module: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: imports {self.module}"


def rooms(src: Path = SRC) -> frozenset[str]:
    return frozenset(p.name for p in src.iterdir() if (p / "__init__.py").exists())


def _imported(node: ast.AST) -> list[str]:
    if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
        return [node.module]
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    return []


def bypasses(src: Path = SRC) -> list[Bypass]:
    """Every cross-room import in ``src`` that names a module below another room."""
    names = rooms(src)
    root = src.parents[1]
    found: list[Bypass] = []
    for path in sorted(src.rglob("*.py")):
        home = path.relative_to(src).parts[0]
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            for module in _imported(node):
                parts = module.split(".")
                if (len(parts) > 2 and parts[0] == "sovra" and parts[1] in names
                        and parts[1] != home and module not in PUBLIC_MODULES
                        and not module.startswith(PUBLIC_PACKAGES)):
                    found.append(Bypass(str(path.relative_to(root)), node.lineno, module))
    return found


__all__ = ["PUBLIC_MODULES", "PUBLIC_PACKAGES", "SRC", "Bypass", "bypasses", "rooms"]
