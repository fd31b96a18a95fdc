"""Registers an auditor asks for, built from what the instance holds:

* GDPR Art. 30 records of processing, one per collection (its spec holds what Art.
  30(1) asks: controller, purposes, categories of subjects and data, time limits);
* the erasure register (GDPR Art. 17), from the ``data.erase`` ledger entries;
* the DORA register of information (Art. 28(3); ITS (EU) 2024/2956, template B_05.01
  "ICT third-party service providers"), from the SBOMs of imported bundles and a
  supplier inventory file (YAML or CSV).

Pure: values and bytes in, rows out. Bad inventory rows are all reported at once, each
with its line and field.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import yaml

from sovra.compliance.evidence import Event, rfc3339
from sovra.errors import InvalidInputError

CODE_TYPES = frozenset({"LEI", "EUID", "CRN", "VAT", "other"})
_LEI = re.compile(r"[A-Z0-9]{18}[0-9]{2}")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")
# ITS (EU) 2024/2956, template B_05.01: column code and header.
B_05_01 = (("c0010", "Identification code of the ICT third-party service provider"),
           ("c0020", "Type of code"), ("c0050", "Legal name"),
           ("c0060", "Type of person"), ("c0070", "Country of headquarters"),
           ("c0080", "Currency of the amount reported"),
           ("c0090", "Total annual expense or estimated cost"),
           ("c0110", "Identification code of the ultimate parent undertaking"),
           ("sovra_services", "ICT services supplied (Sovra)"),
           ("sovra_source", "Source of the entry (Sovra)"))


@dataclass(frozen=True)
class Supplier:
    code: str
    code_type: str
    name: str
    person_type: str = "legal"
    country: str = ""
    currency: str = ""
    annual_expense: str = ""
    parent_code: str = ""
    services: str = ""
    source: str = "inventory"


def _supplier(row: Mapping[str, Any], where: str, problems: list[str]) -> Supplier | None:
    values = {k: "" if v is None else str(v).strip() for k, v in row.items()}
    found = []
    if not values.get("name"):
        found.append("name is missing")
    code_type = values.get("code_type") or "other"
    if code_type not in CODE_TYPES:
        found.append(f"code_type {code_type!r} is not one of {', '.join(sorted(CODE_TYPES))}")
    if code_type == "LEI" and not _LEI.fullmatch(values.get("code", "")):
        found.append(f"code {values.get('code')!r} is not a 20-character LEI")
    if values.get("country") and not _COUNTRY.fullmatch(values["country"]):
        found.append(f"country {values['country']!r} is not an ISO 3166 alpha-2 code")
    if values.get("currency") and not _CURRENCY.fullmatch(values["currency"]):
        found.append(f"currency {values['currency']!r} is not an ISO 4217 code")
    expense = values.get("annual_expense", "")
    if expense and not re.fullmatch(r"[0-9]+(\.[0-9]{1,2})?", expense):
        found.append(f"annual_expense {expense!r} is not an amount like 12000.50")
    if values.get("person_type", "legal") not in ("legal", "natural", ""):
        found.append("person_type must be legal or natural")
    unknown = set(values) - {f for f in Supplier.__dataclass_fields__ if f != "source"}
    if unknown:
        found.append(f"unknown field(s) {', '.join(sorted(unknown))}")
    if found:
        problems.extend(f"{where}: {p}" for p in found)
        return None
    return Supplier(values.get("code") or values["name"], code_type, values["name"],
                    values.get("person_type") or "legal", values.get("country", ""),
                    values.get("currency", ""), expense, values.get("parent_code", ""),
                    values.get("services", ""))


def parse_inventory(text: str, fmt: str, name: str) -> list[Supplier]:
    """The supplier inventory (YAML list of mappings, or CSV with a header row)."""
    problems: list[str] = []
    rows: list[tuple[str, Mapping[str, Any]]] = []
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = [(f"{name} line {reader.line_num}", r) for r in reader]
        if reader.fieldnames is None:
            raise InvalidInputError(f"{name}: the CSV has no header row (name,code,...)")
    elif fmt == "yaml":
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"{name}: not valid YAML: {exc}") from exc
        items = loaded.get("suppliers") if isinstance(loaded, dict) else loaded
        if not isinstance(items, list):
            raise InvalidInputError(f"{name}: expected a list of suppliers (or a mapping "
                                    "with 'suppliers:')")
        for i, item in enumerate(items, 1):
            if not isinstance(item, dict):
                problems.append(f"{name} supplier {i}: not a mapping")
                continue
            rows.append((f"{name} supplier {i}", item))
    else:
        raise InvalidInputError(f"inventory format {fmt!r}: use yaml or csv")
    found = [s for where, row in rows if (s := _supplier(row, where, problems)) is not None]
    if problems:
        raise InvalidInputError("the supplier inventory has errors:\n" + "\n".join(problems))
    return found


def suppliers_from_sbom(data: bytes, source: str) -> list[Supplier]:
    """Suppliers, manufacturers and publishers a CycloneDX SBOM names."""
    try:
        bom = json.loads(data)
    except ValueError as exc:
        raise InvalidInputError(f"SBOM {source} is not JSON: {exc}") from exc
    components = [bom.get("metadata", {}).get("component") or {},
                  *(bom.get("components") or [])]
    found = []
    for c in components:
        if not isinstance(c, dict):
            continue
        for key in ("supplier", "manufacturer"):
            org = c.get(key)
            if isinstance(org, dict) and org.get("name"):
                found.append(Supplier(str(org["name"]), "other", str(org["name"]),
                                      services=str(c.get("name", "")),
                                      source=f"sbom:{source}"))
        if c.get("publisher"):
            found.append(Supplier(str(c["publisher"]), "other", str(c["publisher"]),
                                  services=str(c.get("name", "")), source=f"sbom:{source}"))
    return found


def register_of_information(inventory: Sequence[Supplier],
                            from_sboms: Iterable[Supplier]) -> list[Supplier]:
    """One row per provider: the inventory's row wins, SBOM services are merged in."""
    by_name = {s.name.casefold(): s for s in inventory}
    extra: dict[str, Supplier] = {}
    for s in from_sboms:
        key = s.name.casefold()
        known = by_name.get(key) or extra.get(key)
        if known is None:
            extra[key] = s
            continue
        services = sorted({*filter(None, known.services.split("; ")), s.services} - {""})
        merged = Supplier(**{**asdict(known), "services": "; ".join(services)})
        (by_name if key in by_name else extra)[key] = merged
    return [*by_name.values(), *sorted(extra.values(), key=lambda s: s.name)]


def register_csv(rows: Sequence[Supplier]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([code for code, _ in B_05_01])
    writer.writerow([header for _, header in B_05_01])
    for s in rows:
        writer.writerow([s.code, s.code_type, s.name, s.person_type, s.country, s.currency,
                         s.annual_expense, s.parent_code, s.services, s.source])
    return out.getvalue()


def processing_records(collections: Iterable[Any], documents: Mapping[str, int]
                       ) -> list[dict[str, Any]]:
    """GDPR Art. 30(1) records, one per collection (``sovra.data.Collection`` values)."""
    return [{
        "collection": c.id, "controller_contact": c.spec.owner,
        "purposes": c.spec.purpose,
        "categories_of_data_subjects": list(c.spec.subject_categories),
        "categories_of_personal_data": list(c.spec.data_categories),
        "recipients": "principals the written policy allows (sovra policy show)",
        "transfers_to_third_countries": f"none: data resides in {c.spec.jurisdiction}",
        "time_limit_for_erasure_days": c.spec.retention_days,
        "security_measures": [f"encrypted under keyring {c.keyring_id} (AES-256-GCM)",
                              f"classification ceiling {c.spec.ceiling}",
                              "every access decided by policy and recorded in the ledger"],
        "legal_hold": c.legal_hold, "documents": documents.get(c.id, 0),
        "created_at": rfc3339(c.created_at), "created_by": c.created_by,
    } for c in collections]


def erasure_register(events: Iterable[Event]) -> list[dict[str, Any]]:
    """Every subject erasure the ledger recorded, with its certificate id."""
    return [{"certificate_id": e.details.get("certificate_id"), "time": e.time,
             "actor": e.actor, "outcome": e.outcome, "ledger_seq": e.seq,
             "documents_erased": len(e.details.get("documents") or ()),
             "documents_withheld": len(e.details.get("withheld") or ())}
            for e in events if e.action == "data.erase"]


__all__ = ["B_05_01", "Supplier", "erasure_register", "parse_inventory",
           "processing_records", "register_csv", "register_of_information",
           "suppliers_from_sbom"]
