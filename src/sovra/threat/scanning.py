"""YARA scanning with yara-x (ADR 0900: chosen by measurement over yara-python).

Each rule file is compiled on its own first, so a file that fails to compile is
reported by name and the others still load; the good files are then built into one
rule set, one namespace per file. Scanners are per thread (a yara-x ``Scanner`` holds
scan state), and each scan has a timeout so a hostile document cannot stall ingest.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yara_x

SCAN_TIMEOUT_S = 10


@dataclass(frozen=True)
class YaraMatch:
    namespace: str
    rule: str


@dataclass(frozen=True)
class YaraProblem:
    source: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: YARA rules do not compile: {self.message}"


class YaraRules:
    """A compiled rule set; ``scan`` is safe to call from many threads."""

    def __init__(self, rules: yara_x.Rules | None, sources: tuple[str, ...],
                 problems: tuple[YaraProblem, ...]) -> None:
        self._rules = rules
        self.sources = sources
        self.problems = problems
        self._local = threading.local()

    @classmethod
    def compile(cls, files: Mapping[str, str]) -> YaraRules:
        good: dict[str, str] = {}
        problems: list[YaraProblem] = []
        for source, text in sorted(files.items()):
            try:
                yara_x.compile(text)
            except (yara_x.CompileError, ValueError, TypeError) as exc:
                problems.append(YaraProblem(source, str(exc).strip()))
                continue
            good[source] = text
        if not good:
            return cls(None, (), tuple(problems))
        compiler = yara_x.Compiler()
        for source, text in good.items():
            compiler.new_namespace(_namespace(source))
            compiler.add_source(text)
        return cls(compiler.build(), tuple(good), tuple(problems))

    @property
    def empty(self) -> bool:
        return self._rules is None

    def scan(self, data: bytes) -> list[YaraMatch]:
        scanner = self._scanner()
        if scanner is None:
            return []
        return [YaraMatch(m.namespace, m.identifier) for m in scanner.scan(data).matching_rules]

    def scan_file(self, path: Path) -> list[YaraMatch]:
        """Scan a file without reading it into memory first (bundle payloads, models)."""
        scanner = self._scanner()
        if scanner is None:
            return []
        return [YaraMatch(m.namespace, m.identifier)
                for m in scanner.scan_file(str(path)).matching_rules]

    def _scanner(self) -> yara_x.Scanner | None:
        if self._rules is None:
            return None
        scanner: yara_x.Scanner | None = getattr(self._local, "scanner", None)
        if scanner is None:
            scanner = yara_x.Scanner(self._rules)
            scanner.set_timeout(SCAN_TIMEOUT_S)
            self._local.scanner = scanner
        return scanner


def _namespace(source: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in source) or "rules"


__all__ = ["YaraMatch", "YaraProblem", "YaraRules"]
