"""Offline policy test cases (``sovra policy test FILE``) for customers' CI.

A cases file (YAML or JSON) lists requests and the decision each must get::

    policies: [policies/main.cedar]   # optional, relative to this file; default pack if absent
    cases:
      - name: analysts read internal documents
        principal: {id: alice, roles: [analyst], clearance: confidential}
        action: documents.read
        resource: {type: Document, id: d-1, attributes: {classification: internal}}
        context: {access_grant_approved: false}
        expected: allow        # allow | deny

Pure apart from reading the named files; no database, no ledger, no network.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from sovra.errors import InvalidInputError
from sovra.policy.classification import Classification
from sovra.policy.decision import Decision, Resource
from sovra.policy.engine import CompiledPolicies, default_policy_text
from sovra.vocabulary import Caller


@dataclass(frozen=True)
class CaseResult:
    name: str
    expected: str
    decision: Decision

    @property
    def passed(self) -> bool:
        return (self.decision.allowed) == (self.expected == "allow")


@dataclass(frozen=True)
class TestReport:
    results: tuple[CaseResult, ...]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failures(self) -> tuple[CaseResult, ...]:
        return tuple(r for r in self.results if not r.passed)


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{where}: expected a mapping")
    return value


def _caller(raw: object, where: str) -> Caller:
    spec = _mapping(raw, where)
    if "id" not in spec:
        raise InvalidInputError(f"{where}: a principal needs an id")
    roles = spec.get("roles", [])
    if not isinstance(roles, list):
        raise InvalidInputError(f"{where}.roles: expected a list")
    return Caller(principal_id=str(spec["id"]), kind=str(spec.get("kind", "user")),
                  roles=frozenset(str(r) for r in roles),
                  clearance=Classification.parse(spec.get("clearance", "public")).label,
                  org_unit=str(spec.get("org_unit", "")),
                  jurisdiction=str(spec.get("jurisdiction", "")))


def _case(raw: object, index: int) -> tuple[str, Caller, str, Resource, dict[str, Any], str]:
    where = f"cases[{index}]"
    spec = _mapping(raw, where)
    expected = str(spec.get("expected", "")).lower()
    if expected not in {"allow", "deny"}:
        raise InvalidInputError(f"{where}.expected: must be allow or deny")
    res = _mapping(spec.get("resource"), f"{where}.resource")
    resource = Resource(str(res.get("type", "")), str(res.get("id", "*")),
                        dict(_mapping(res.get("attributes", {}), f"{where}.resource.attributes")))
    context = dict(_mapping(spec.get("context", {}) or {}, f"{where}.context"))
    return (str(spec.get("name", where)), _caller(spec.get("principal"), f"{where}.principal"),
            str(spec.get("action", "")), resource, context, expected)


def run_cases(policies: CompiledPolicies, cases: Sequence[object]) -> TestReport:
    results = []
    for index, raw in enumerate(cases):
        name, caller, action, resource, context, expected = _case(raw, index)
        results.append(CaseResult(name, expected,
                                  policies.decide(caller, action, resource, context)))
    return TestReport(tuple(results))


def load_cases_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text("utf-8")
        loaded = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise InvalidInputError(f"cannot read test cases {path}: {exc}") from exc
    return dict(_mapping(loaded, str(path)))


def run_test_file(path: Path, policy_files: Sequence[Path] = ()) -> TestReport:
    """Run the cases in ``path`` against the given policy files (or the file's own)."""
    spec = load_cases_file(path)
    files = list(policy_files) or [path.parent / str(p) for p in spec.get("policies", [])]
    texts: list[str] = []
    for file in files:
        try:
            texts.append(file.read_text("utf-8"))
        except OSError as exc:
            raise InvalidInputError(f"cannot read policies: {exc}") from exc
        CompiledPolicies(texts[-1], source=str(file))  # errors carry file:line:column
    text = "\n".join(texts) if texts else default_policy_text()
    compiled = CompiledPolicies(text, source=", ".join(map(str, files)) or "default pack")
    cases = spec.get("cases")
    if not isinstance(cases, list) or not cases:
        raise InvalidInputError(f"{path}: no cases")
    return run_cases(compiled, cases)


__all__ = ["CaseResult", "TestReport", "run_cases", "run_test_file"]
