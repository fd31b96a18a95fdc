"""The reports page's shelf: compliance reports and readiness assessments generated from
the console, kept as files so they can be listed and downloaded again (JSON, or PDF
rendered on download by the rooms' own renderers).

Generating is the rooms' own operation (``compliance.report.generate``,
``assessment.readiness.service.run``), which records an entry holding the document's
SHA-256. The shelf keeps the document under that entry's number, and every read checks
the file against the entry: a file edited on disk is refused, not served (the ledger,
not the file, is the record). Files are written whole then renamed, so a reader never
sees half a report.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sovra.assessment.readiness import readiness_digest as assessment_digest
from sovra.compliance import signed_digest
from sovra.errors import ConflictError, NotFoundError, StorageError
from sovra.ledger import Ledger

KINDS: dict[str, tuple[str, Callable[[dict[str, Any]], str]]] = {
    "compliance": ("compliance.report", signed_digest),
    "assessment": ("assessment.run", assessment_digest),
}
LISTED = 50
_NAME = re.compile(r"(compliance|assessment)-(\d{1,19})\.json")


@dataclass(frozen=True)
class Shelved:
    kind: str
    seq: int  # the ledger entry that recorded it
    time: str
    actor: str
    summary: str


class Shelf:
    def __init__(self, folder: Path, ledger: Ledger) -> None:
        self.folder = folder
        self.ledger = ledger

    def put(self, kind: str, seq: int, document: dict[str, Any]) -> None:
        if kind not in KINDS:
            raise NotFoundError(f"no report kind {kind!r}: compliance or assessment")
        try:
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            target = self.folder / f"{kind}-{seq}.json"
            partial = target.with_suffix(".part")
            partial.write_text(json.dumps(document, sort_keys=True), "utf-8")
            partial.replace(target)
        except OSError as exc:
            raise StorageError(f"cannot keep the {kind} report in {self.folder}: {exc}; "
                               "check the data directory's free space and rights") from exc

    def list(self) -> list[Shelved]:
        """The newest ``LISTED`` reports, newest first, as their ledger entries say."""
        try:
            names = [p.name for p in self.folder.iterdir()] if self.folder.is_dir() else []
        except OSError as exc:
            raise StorageError(f"cannot list {self.folder}: {exc}") from exc
        found = sorted(((int(m[2]), m[1]) for n in names if (m := _NAME.fullmatch(n))),
                       reverse=True)[:LISTED]
        shelved = []
        for seq, kind in found:
            if seq >= self.ledger.size:
                continue  # a file the ledger does not know: never listed
            entry = json.loads(self.ledger.entry(seq).body)
            details = entry.get("details", {})
            summary = (f"SEAL-{details.get('seal')}, {details.get('overall_percent')} %, "
                       f"{details.get('gaps')} gaps" if kind == "assessment" else
                       f"{details.get('since', '')[:10]} to {details.get('until', '')[:10]}, "
                       f"{details.get('findings')} findings, "
                       f"{', '.join(details.get('regimes', []))}")
            shelved.append(Shelved(kind, seq, str(entry.get("time")), str(entry.get("actor")),
                                   summary))
        return shelved

    def get(self, kind: str, seq: int) -> dict[str, Any]:
        """The document, only if it is the one entry ``seq`` recorded."""
        if kind not in KINDS:
            raise NotFoundError(f"no report kind {kind!r}: compliance or assessment")
        path = self.folder / f"{kind}-{seq}.json"
        try:
            document: dict[str, Any] = json.loads(path.read_text("utf-8"))
        except FileNotFoundError as exc:
            raise NotFoundError(f"no {kind} report recorded at ledger entry {seq}: pick one "
                                "from the list") from exc
        except (OSError, ValueError) as exc:
            raise StorageError(f"cannot read {path}: {exc}") from exc
        action, digest_of = KINDS[kind]
        if not 0 <= seq < self.ledger.size:
            raise NotFoundError(f"ledger entry {seq} does not exist")
        entry = json.loads(self.ledger.entry(seq).body)
        recorded = entry.get("details", {}).get("sha256")
        if entry.get("action") != action or recorded != digest_of(document):
            raise ConflictError(f"the kept {kind} report {seq} is not the one ledger entry "
                                 f"{seq} recorded (SHA-256 differs): generate it again, and "
                                 f"ask an operator to check {path}")
        return document


__all__ = ["KINDS", "LISTED", "Shelf", "Shelved"]
