"""The registers built from one instance (the IO around ``sovra.compliance.registers``).

Each export is recorded in the ledger (``compliance.export``, with the SHA-256 of what
was handed out), so the ledger shows what evidence left the instance and to whom.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from sovra.compliance import registers
from sovra.compliance.evidence import scan
from sovra.errors import InvalidInputError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.ledger import LedgerStore


def _record(inst: Instance, caller: Caller, kind: str, data: bytes, count: int) -> None:
    inst.ledger.append(caller.principal_id, "compliance.export", f"compliance/{kind}",
                       "success", {"sha256": hashlib.sha256(data).hexdigest(),
                                   "rows": count})


def records_of_processing(inst: Instance, caller: Caller) -> list[dict[str, Any]]:
    """GDPR Art. 30 records for the collections the caller may read."""
    collections = inst.data.list_collections(caller)
    counts = {c.id: inst.data.document_count(c.id) for c in collections}
    return registers.processing_records(collections, counts)


def erasures(inst: Instance) -> list[dict[str, Any]]:
    store = LedgerStore(inst.engine)
    rows = ((r.seq, r.body) for r in store.entries(0, inst.ledger.refresh()))
    return registers.erasure_register(scan(rows, frozenset({"data.erase"})).select_all())


def register_of_information(inst: Instance, inventory: Path | None,
                            sboms: list[Path]) -> list[registers.Supplier]:
    listed: list[registers.Supplier] = []
    if inventory is not None:
        fmt = {".csv": "csv", ".yaml": "yaml", ".yml": "yaml"}.get(inventory.suffix.lower())
        if fmt is None:
            raise InvalidInputError(f"{inventory}: name the inventory .yaml, .yml or .csv")
        try:
            text = inventory.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InvalidInputError(f"cannot read the inventory {inventory}: {exc}") from exc
        listed = registers.parse_inventory(text, fmt, inventory.name)
    paths = [*sboms, *(m.sbom_path for m in inst.transfer.activated_models()
                       if m.sbom_path is not None)]
    found: list[registers.Supplier] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the SBOM {path}: {exc}") from exc
        found.extend(registers.suppliers_from_sbom(data, path.name))
    return registers.register_of_information(listed, found)


def export(inst: Instance, caller: Caller, kind: str, data: bytes, count: int) -> bytes:
    """Record that ``data`` (``count`` rows of ``kind``) leaves the instance."""
    _record(inst, caller, kind, data, count)
    return data


__all__ = ["erasures", "export", "records_of_processing", "register_of_information"]
