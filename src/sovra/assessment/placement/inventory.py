"""An organisation's workloads, read from YAML or CSV and validated line by line."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sovra.assessment.placement._sources import (
    Record,
    csv_records,
    mapping_child,
    yaml_document,
    yaml_records,
)
from sovra.assessment.placement.vocabulary import (
    AI_USES,
    CONNECTIVITY,
    DATA_CLASSES,
    REGIMES,
    Criticality,
    criticality,
    one_of,
    words,
)
from sovra.errors import InvalidInputError
from sovra.vocabulary import Classification


@dataclass(frozen=True)
class Workload:
    """One workload as its owner describes it; ``where`` is the file and line."""

    name: str
    where: str
    classification: Classification
    personal_data: bool
    data_classes: frozenset[str]
    criticality: Criticality
    regimes: frozenset[str]
    ai_use: str
    connectivity: str
    rto_hours: float | None = None
    latency_ms: float | None = None
    volume_gb: float | None = None


REQUIRED = ("name", "classification", "personal_data", "criticality", "connectivity")
OPTIONAL = ("data_classes", "regimes", "ai_use", "rto_hours", "latency_ms", "volume_gb",
            "description", "owner")
FIELDS = frozenset(REQUIRED + OPTIONAL)


def _boolean(value: object, field: str, where: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in {"true", "yes", "false", "no"}:
        return value.lower() in {"true", "yes"}
    raise InvalidInputError(f"{where}: {field} must be true or false, not {value!r}")


def _number(value: object, field: str, where: str) -> float:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise InvalidInputError(f"{where}: {field} must be a number, not {value!r}") from None
    if not number >= 0 or number == float("inf"):
        raise InvalidInputError(f"{where}: {field} must be a finite number >= 0")
    return number


def _level(value: object, where: str) -> Classification:
    try:
        return Classification.parse(value)  # type: ignore[arg-type]
    except InvalidInputError:
        raise InvalidInputError(
            f"{where}: unknown classification {value!r}; use one of "
            f"{', '.join(c.label for c in Classification)}") from None


def workload(record: Record) -> Workload:
    """Validate one record; every error names the line and what to write instead."""
    f, where = record.fields, record.where
    unknown = sorted(set(f) - FIELDS)
    if unknown:
        raise InvalidInputError(f"{where}: unknown field(s) {', '.join(unknown)}; "
                                f"a workload has {', '.join(sorted(FIELDS))}")
    missing = [k for k in REQUIRED if k not in f]
    if missing:
        raise InvalidInputError(f"{where}: missing {', '.join(missing)}")
    name = f["name"]
    if not isinstance(name, str) or not name.strip():
        raise InvalidInputError(f"{where}: name must be a non-empty text")

    def optional(field: str) -> float | None:
        return _number(f[field], field, where) if field in f else None

    return Workload(
        name=name.strip(), where=where,
        classification=_level(f["classification"], where),
        personal_data=_boolean(f["personal_data"], "personal_data", where),
        data_classes=words(f.get("data_classes", []), DATA_CLASSES, "data class", where),
        criticality=criticality(f["criticality"], where),
        regimes=words(f.get("regimes", []), REGIMES, "regime", where),
        ai_use=one_of(f.get("ai_use", "none"), AI_USES, "ai_use", where),
        connectivity=one_of(f["connectivity"], CONNECTIVITY, "connectivity", where),
        rto_hours=optional("rto_hours"), latency_ms=optional("latency_ms"),
        volume_gb=optional("volume_gb"))


def _unique(workloads: Iterable[Workload]) -> list[Workload]:
    seen: dict[str, str] = {}
    result = []
    for w in workloads:
        if w.name in seen:
            raise InvalidInputError(f"{w.where}: workload {w.name!r} is already defined at "
                                    f"{seen[w.name]}; give each workload its own name")
        seen[w.name] = w.where
        result.append(w)
    if not result:
        raise InvalidInputError("the inventory lists no workloads")
    return result


def load_inventory(text: str, name: str = "inventory", fmt: str | None = None) -> list[Workload]:
    """Workloads from YAML (a list, or a mapping with ``workloads:``) or CSV."""
    fmt = fmt or ("csv" if name.lower().endswith(".csv") else "yaml")
    if fmt == "csv":
        return _unique(workload(r) for r in csv_records(text, name))
    if fmt != "yaml":
        raise InvalidInputError(f"unknown inventory format {fmt!r}; use yaml or csv")
    value, node = yaml_document(text, name)
    items: Any = value
    if isinstance(value, dict):
        extra = sorted(set(value) - {"workloads"})
        if extra:
            raise InvalidInputError(f"{name}: unknown top-level key(s) {', '.join(extra)}; "
                                    "the inventory has only 'workloads'")
        items, node = value.get("workloads"), mapping_child(node, "workloads")
    return _unique(workload(r) for r in yaml_records(items, node, name, "workloads"))


__all__ = ["FIELDS", "Workload", "load_inventory"]
