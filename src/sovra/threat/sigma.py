"""Sigma rules compiled to SQL over ``threat_events``.

Single-event rules go through pySigma and its SQLite backend (quoting adjusted so the
same text runs on PostgreSQL); correlation rules (Sigma specification v2, "Correlation
rules": event_count, value_count, temporal, temporal_ordered) are compiled here to
window-function SQL or one ordered scan of the base rules' matches,
because the backend's own correlation SQL joins every event with every other in its
window and grows quadratically (docs/threat.md). Every problem names the file and the
rule, and a bad rule never stops the others: ``compile_pack`` returns the good rules
and the problems side by side.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.correlations import SigmaCorrelationRule
from sigma.exceptions import SigmaError
from sigma.rule import SigmaRule

from sovra.threat.events import FIELDS

SEVERITIES = ("informational", "low", "medium", "high", "critical")
CORRELATION_TYPES = ("event_count", "value_count", "temporal", "temporal_ordered")
_PREFIX = re.compile(r"^SELECT \* FROM \S+ WHERE ", re.DOTALL)
_OPS = {"gte": ">=", "gt": ">", "lte": "<=", "lt": "<", "eq": "="}


@dataclass(frozen=True)
class RuleProblem:
    """Why one rule (or one whole file) was rejected."""

    source: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}: rule {self.rule!r}: {self.message}"


@dataclass(frozen=True)
class SingleRule:
    """A single-event rule: a SQL condition over one event row."""

    rule_id: str
    title: str
    severity: str
    where: str
    name: str | None = None
    # False for a rule a correlation refers to (Sigma correlation spec: ``generate``
    # defaults to false, so the base rule's matches are not alerts of their own).
    standalone: bool = True


@dataclass(frozen=True)
class CorrelationRule:
    """A correlation over base rules' matches, grouped and windowed."""

    rule_id: str
    title: str
    severity: str
    kind: str
    bases: tuple[str, ...]  # the base rules' SQL conditions, in the rule's order
    group_by: tuple[str, ...]
    timespan_s: float
    op: str
    threshold: int
    field: str | None


@dataclass(frozen=True)
class CompiledPack:
    singles: tuple[SingleRule, ...]
    correlations: tuple[CorrelationRule, ...]
    problems: tuple[RuleProblem, ...]


class _Backend(sqliteBackend):
    """The SQLite backend, with standard double-quoted identifiers (PostgreSQL reads
    them too) and Sigma's case-insensitive string equality (``COLLATE NOCASE``; LIKE
    already ignores case), ``|cased`` staying case-sensitive (GLOB)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(collate_nocase=True, **options)  # type: ignore[no-untyped-call]

    def escape_and_quote_field(self, field: str) -> str:
        return '"' + field.replace('"', '""') + '"'


class _PostgresBackend(_Backend):
    """The same matching on PostgreSQL, whose ``=`` and ``LIKE`` are case-sensitive and
    which has no ``COLLATE NOCASE`` and no ``GLOB``: equality compares ``LOWER`` of both
    sides, wildcards use ``ILIKE``, and ``|cased`` is ``=`` or ``LIKE`` (ADR 0901)."""

    eq_expression = "LOWER({field})=LOWER({value})"
    wildcard_match_expression = "{field} ILIKE '{value}' ESCAPE '\\'"
    contains_expression = "{field} ILIKE '%{value}%' ESCAPE '\\'"
    startswith_expression = "{field} ILIKE '{value}%' ESCAPE '\\'"
    endswith_expression = "{field} ILIKE '%{value}' ESCAPE '\\'"
    re_expression = "{field} ~ '{regex}'"

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.collate_nocase = False  # the LOWER() above is PostgreSQL's NOCASE

    def convert_condition_field_eq_val_str_case_sensitive(self, cond: Any,
                                                          state: Any) -> str:
        field = self.escape_and_quote_field(cond.field)
        value = cond.value
        if value.contains_special() or any(c in value for c in ("%", "_", "\\")):
            pattern = self.convert_value_str(value, state, no_quote=True)
            return f"{field} LIKE '{pattern}' ESCAPE '\\'"
        return f"{field}={self.convert_value_str(value, state)}"


def _backend(dialect: str) -> Any:  # pySigma's backends are untyped
    if dialect == "postgresql":
        return _PostgresBackend(table="threat_events")
    return _Backend(table="threat_events")


def compile_pack(files: Mapping[str, str], dialect: str) -> CompiledPack:
    """Compile every rule in ``files`` (name -> YAML text, one or more documents)."""
    backend = _backend(dialect)
    problems: list[RuleProblem] = []
    singles: list[SingleRule] = []
    correlations: list[tuple[str, dict[str, Any]]] = []
    for source, text in sorted(files.items()):
        try:
            documents = [d for d in yaml.safe_load_all(text) if d is not None]
        except yaml.YAMLError as exc:
            problems.append(RuleProblem(source, "*", f"malformed YAML: {exc}"))
            continue
        for index, doc in enumerate(documents):
            label = _label(doc, index)
            if not isinstance(doc, dict):
                problems.append(RuleProblem(source, label, "a rule must be a YAML mapping"))
            elif "correlation" in doc:
                correlations.append((source, doc))
            else:
                compiled = _single(backend, source, label, doc)
                (singles if isinstance(compiled, SingleRule) else problems).append(
                    compiled)  # type: ignore[arg-type]
    by_ref = {ref: rule for rule in singles for ref in (rule.rule_id, rule.name) if ref}
    out: list[CorrelationRule] = []
    hidden: set[str] = set()
    for source, doc in correlations:
        compiled_c = _correlation(source, doc, by_ref)
        (out if isinstance(compiled_c, CorrelationRule) else problems).append(
            compiled_c)  # type: ignore[arg-type]
        body = doc.get("correlation")
        if isinstance(body, dict) and not body.get("generate", False):
            hidden.update(str(r) for r in body.get("rules") or ())
    singles = [replace(r, standalone=False) if {r.rule_id, r.name} & hidden else r
               for r in singles]
    return CompiledPack(tuple(singles), tuple(out), tuple(problems))


def _label(doc: object, index: int) -> str:
    if isinstance(doc, dict):
        for key in ("title", "name", "id"):
            if isinstance(doc.get(key), str):
                return str(doc[key])
    return f"document {index + 1}"


def _single(backend: Any, source: str, label: str,
            doc: dict[str, Any]) -> SingleRule | RuleProblem:
    try:
        rule = SigmaRule.from_dict(doc)
        unknown = sorted(set(backend.required_fields(rule)) - FIELDS)
        if unknown:
            return RuleProblem(source, label, f"uses field(s) {', '.join(unknown)} that Sovra's "
                               f"security events do not have; known: {', '.join(sorted(FIELDS))}")
        queries = backend.convert_rule(rule)
    except (SigmaError, ValueError, TypeError, KeyError) as exc:
        return RuleProblem(source, label, f"invalid Sigma rule: {exc}")
    if len(queries) != 1 or not _PREFIX.match(str(queries[0])):
        return RuleProblem(source, label, "the rule did not compile to one SQL condition")
    where = _PREFIX.sub("", str(queries[0]), count=1)
    rule_id = str(rule.id) if rule.id else f"{source}:{label}"
    return SingleRule(rule_id, str(rule.title), _severity(rule.level), where,
                      str(rule.name) if rule.name else None)


def _correlation(source: str, doc: dict[str, Any],
                 by_ref: Mapping[str, SingleRule]) -> CorrelationRule | RuleProblem:
    label = _label(doc, 0)
    try:
        rule = SigmaCorrelationRule.from_dict(doc)
    except (SigmaError, ValueError, TypeError, KeyError) as exc:
        return RuleProblem(source, label, f"invalid Sigma correlation: {exc}")
    kind = str(getattr(rule.type, "name", rule.type)).lower()
    group_by = tuple(str(g) for g in (rule.group_by or ()))
    condition: Any = rule.condition
    field = str(condition.fieldref) if getattr(condition, "fieldref", None) else None
    op = str(getattr(condition.op, "name", condition.op)).lower()
    refs = [str(ref.reference) for ref in rule.rules or ()]
    problem = _correlation_problem(kind, refs, group_by, field, op, by_ref)
    if problem is not None:
        return RuleProblem(source, label, problem)
    rule_id = str(rule.id) if rule.id else f"{source}:{label}"
    return CorrelationRule(rule_id, str(rule.title), _severity(rule.level), kind,
                           tuple(by_ref[r].where for r in refs), group_by,
                           float(rule.timespan.seconds), _OPS.get(op, ">="),
                           len(refs) if kind.startswith("temporal")
                           else int(condition.count or 0), field)


def _correlation_problem(kind: str, refs: list[str], group_by: tuple[str, ...],  # noqa: PLR0917
                         field: str | None, op: str,
                         by_ref: Mapping[str, SingleRule]) -> str | None:
    if kind not in CORRELATION_TYPES:
        return (f"correlation type {kind!r} is not supported; use one of "
                f"{', '.join(CORRELATION_TYPES)}")
    missing = [r for r in refs if r not in by_ref]
    if missing:
        return (f"refers to rule(s) {', '.join(map(repr, missing))}, not in the pack or "
                "not compiled")
    unknown = sorted((set(group_by) | ({field} if field else set())) - FIELDS)
    if unknown:
        return (f"groups or counts by unknown field(s) {', '.join(unknown)}; known: "
                f"{', '.join(sorted(FIELDS))}")
    if kind == "value_count" and field is None:
        return "value_count needs condition.field"
    if not kind.startswith("temporal") and op not in _OPS:
        return f"condition operator {op!r} is not supported"
    return None


def _severity(level: object) -> str:
    text = str(getattr(level, "name", level) or "medium").lower()
    return text if text in SEVERITIES else "medium"


__all__ = ["CompiledPack", "CorrelationRule", "RuleProblem", "SingleRule", "compile_pack"]
