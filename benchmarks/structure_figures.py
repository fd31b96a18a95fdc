"""Structure figures (issue 14): module and function length, cross-room imports that reach
past a room's ``__init__``, and the import time of the pure cores against the ledger
service they used to pull in, measured in fresh interpreters in the same run.

A cross-room import is an ``import``/``from`` of ``sovra.<room>...`` in a module of
another room (``sovra.errors``, ``sovra.config`` and ``sovra.instance`` are not rooms);
it bypasses the room's surface when it names a module below the room's package that is not
a declared public module (``tests/support/surface.py``, the same code as the contract test).
Prints JSON. Run: .venv/bin/python benchmarks/structure_figures.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import ast
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "sovra"
sys.path.insert(0, str(ROOT))
from tests.support.surface import bypasses  # noqa: E402  (after the path is set)

IMPORTS = ["sovra.vocabulary", "sovra.ledger.merkle", "sovra.ledger.note", "sovra.data.classify",
           "sovra.transfer.verify", "sovra.ledger.log", "sovra.cli.app"]


def _quantiles(values: list[int]) -> dict[str, float]:
    ordered = sorted(values)
    return {"median": statistics.median(ordered), "p90": ordered[int(len(ordered) * 0.9)]}


def _sovra_imports(tree: ast.AST) -> list[str]:
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(node.module)
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names)
    return [name for name in found if name.startswith("sovra.")]


def structure() -> dict[str, object]:
    rooms = {p.name for p in SRC.iterdir() if (p / "__init__.py").exists()}
    module_lines: list[int] = []
    function_lines: list[int] = []
    private = cross = 0
    for path in sorted(SRC.rglob("*.py")):
        text = path.read_text()
        tree = ast.parse(text)
        module_lines.append(len(text.splitlines()))
        private += path.name.startswith("_") and path.name != "__init__.py"
        function_lines.extend(n.end_lineno - n.lineno + 1 for n in ast.walk(tree)
                              if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)
                              and n.end_lineno is not None)
        home = path.relative_to(SRC).parts[0]
        for name in _sovra_imports(tree):
            parts = name.split(".")
            if parts[1] in rooms and parts[1] != home:
                cross += 1
    return {"modules": len(module_lines), "private_modules": private,
            "module_lines": _quantiles(module_lines),
            "function_lines": _quantiles(function_lines),
            "cross_room_imports": cross, "bypassing_room_surface": len(bypasses(SRC))}


def import_seconds(module: str) -> float:
    """Cumulative import time of ``module`` in a fresh interpreter (-X importtime)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"],
                          capture_output=True, text=True, check=True)
    last = done.stderr.strip().splitlines()[-1]
    return int(last.split("|")[1]) / 1e6


def help_seconds() -> float:
    """Wall time of ``sovra --help`` (the console script beside this interpreter)."""
    started = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "sovra"), "--help"],
                   capture_output=True, check=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    rounds = parser.parse_args().rounds
    times: dict[str, list[float]] = {m: [] for m in IMPORTS}
    helps: list[float] = []
    for _ in range(rounds):  # interleaved, so load on the machine hits each alike
        for module in IMPORTS:
            times[module].append(import_seconds(module))
        helps.append(help_seconds())
    print(json.dumps({"structure": structure(), "import_s": {
        m: {"median": round(statistics.median(t), 4), "min": round(min(t), 4)}
        for m, t in times.items()}, "sovra_help_wall_s": {
        "median": round(statistics.median(helps), 4), "min": round(min(helps), 4)}}, indent=2))


if __name__ == "__main__":
    main()
