"""What each kind of export carries, before redaction.

``support``: the instance's settings, versions, log files in the data directory and the
ledger's recent entries (what a vendor asks for); ``usage``: counts of collections,
documents and actions; ``portability``: the latest version of every document of one
collection (GDPR Art. 20). Each file carries the level declared for it: settings and
logs are internal, documents their own declared level.
"""

from __future__ import annotations

import json
import platform
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import sovra
from sovra.analytics.export.redact import SourceFile
from sovra.analytics.source import plaintext, tabular_documents
from sovra.config import Settings
from sovra.data import DataService, collection_ids
from sovra.errors import InvalidInputError
from sovra.ledger import Ledger
from sovra.policy import Classification

KINDS = ("support", "usage", "portability")
LEDGER_TAIL = 500
MAX_LOG_BYTES = 200 * 1024 * 1024


def collect(kind: str, subject: str, *, settings: Settings, data: DataService,
            ledger: Ledger) -> list[SourceFile]:
    collectors: dict[str, Callable[[], list[SourceFile]]] = {
        "support": lambda: _support(settings, ledger),
        "usage": lambda: _usage(data, ledger),
        "portability": lambda: _portability(data, subject),
    }
    if kind not in collectors:
        raise InvalidInputError(f"unknown export kind {kind!r}; one of {', '.join(KINDS)}")
    return collectors[kind]()


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str) + "\n"


def _support(settings: Settings, ledger: Ledger) -> list[SourceFile]:
    internal = Classification.INTERNAL
    files = [
        SourceFile("settings.json", _json(settings.model_dump(mode="json")), internal),
        SourceFile("versions.json", _json({
            "sovra": sovra.__version__, "python": platform.python_version(),
            "platform": platform.platform()}), internal),
        SourceFile("ledger-tail.jsonl", "".join(
            row.body.decode("utf-8", "replace") + "\n"
            for row in ledger.tail(LEDGER_TAIL)), internal),
    ]
    files += [SourceFile(f"logs/{p.name}", p.read_text("utf-8", "replace"), internal)
              for p in _log_files(settings.data_dir)]
    return files


def _log_files(data_dir: Path) -> list[Path]:
    found = sorted({*data_dir.glob("*.log"), *data_dir.glob("logs/*.log")})
    return [p for p in found if p.is_file() and p.stat().st_size <= MAX_LOG_BYTES]


def _usage(data: DataService, ledger: Ledger) -> list[SourceFile]:
    actions = Counter(json.loads(row.body).get("action", "?")
                      for row in ledger.tail(5000))
    collections = {}
    for collection_id in _collection_ids(data):
        collections[collection_id] = data.document_count(collection_id)
    return [SourceFile("usage.json", _json({
        "ledger_entries": ledger.size, "actions_recent": dict(sorted(actions.items())),
        "documents_per_collection": collections}), Classification.INTERNAL)]


def _collection_ids(data: DataService) -> list[str]:
    return collection_ids(data)


def _portability(data: DataService, collection_id: str) -> list[SourceFile]:
    if not collection_id:
        raise InvalidInputError("a portability export names its collection (--collection)")
    data.get_collection(collection_id)  # NotFoundError for an unknown one
    files = []
    for doc in tabular_documents(data, collection_id, kinds=None):
        name, text = plaintext(data, doc.id)
        files.append(SourceFile(f"{collection_id}/{name}", text, doc.declared))
    return files


__all__ = ["KINDS", "collect"]
