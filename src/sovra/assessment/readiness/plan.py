"""Gaps and the phased plan: every unmet criterion with what was observed, why it
matters, the remedy and its effort; ordered into immediate / 90 days / 12 months by
weight and effort, and written as OSCAL plan-of-action-and-milestones items. Pure.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sovra.assessment.readiness.criteria import BY_ID, Criterion
from sovra.assessment.readiness.facts import Fact, Status

PHASES: dict[str, int] = {"immediate": 30, "90 days": 90, "12 months": 365}  # deadline days
_EFFORT = {"low": 0, "medium": 1, "high": 2}
_NS = uuid.UUID("5f1b7c64-9d1e-4c1a-9a57-0b3d2e7a0a20")  # Sovra readiness POA&M items


@dataclass(frozen=True)
class Gap:
    criterion: Criterion
    fact: Fact

    @property
    def phase(self) -> str:
        return phase_of(self.criterion)

    def as_dict(self) -> dict[str, Any]:
        c = self.criterion
        return {"criterion": c.id, "layer": c.layer, "title": c.title,
                "status": self.fact.status.value, "observed": self.fact.observed,
                "ledger_entries": list(self.fact.cites), "why": c.why, "remedy": c.remedy,
                "effort": c.effort, "weight": c.weight, "kind": c.kind.value,
                "mandatory": c.mandatory, "objective": c.objective, "phase": self.phase}


def phase_of(c: Criterion) -> str:
    """Cheap fixes and heavy mandatory controls first; heavy, light-weight work last.

    immediate: low effort, or a mandatory preventive control (27) of medium effort;
    12 months: high effort unless mandatory preventive, and what weighs 1 and is not low;
    90 days: the rest.
    """
    effort = _EFFORT[c.effort]
    if effort == 0 or (c.weight == 27 and effort == 1):
        return "immediate"
    if (effort == 2 and c.weight < 27) or c.weight == 1:
        return "12 months"
    return "90 days"


def gaps(facts: Iterable[Fact]) -> list[Gap]:
    found = [Gap(BY_ID[f.criterion], f) for f in facts if f.status is not Status.MET]
    order = list(PHASES)
    found.sort(key=lambda g: (order.index(g.phase), -g.criterion.weight,
                              _EFFORT[g.criterion.effort], g.criterion.id))
    return found


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def poam(found: list[Gap], *, assessment_id: str, now: float) -> dict[str, Any]:
    """The gaps as an OSCAL 1.1 plan-of-action-and-milestones (observations, risks with
    a remediation deadline per phase, and one poam-item per gap)."""
    observations, risks, items = [], [], []
    for g in found:
        c = g.criterion
        obs = str(uuid.uuid5(_NS, f"{assessment_id}/obs/{c.id}"))
        risk = str(uuid.uuid5(_NS, f"{assessment_id}/risk/{c.id}"))
        deadline = _rfc3339(now + PHASES[g.phase] * 86400.0)
        observations.append({
            "uuid": obs, "title": c.title, "description": g.fact.observed,
            "methods": ["EXAMINE" if c.source.value == "instance" else "INTERVIEW"],
            "collected": _rfc3339(now),
            "relevant-evidence": [{"href": f"#ledger-{seq}", "description":
                                   f"ledger entry {seq}"} for seq in g.fact.cites]})
        risks.append({
            "uuid": risk, "title": c.title, "description": c.why, "statement": c.why,
            "status": "open", "deadline": deadline,
            "props": [{"name": "phase", "value": g.phase, "ns": "https://sovra.dev/ns"},
                      {"name": "effort", "value": c.effort, "ns": "https://sovra.dev/ns"},
                      {"name": "weight", "value": str(c.weight), "ns": "https://sovra.dev/ns"}],
            "remediations": [{"uuid": str(uuid.uuid5(_NS, f"{assessment_id}/rem/{c.id}")),
                              "lifecycle": "planned", "title": c.remedy,
                              "description": c.remedy}]})
        items.append({
            "uuid": str(uuid.uuid5(_NS, f"{assessment_id}/item/{c.id}")), "title": c.title,
            "description": f"{c.remedy} (phase {g.phase}, effort {c.effort})",
            "props": [{"name": "criterion", "value": c.id, "ns": "https://sovra.dev/ns"},
                      {"name": "objective", "value": c.objective,
                       "ns": "https://sovra.dev/ns"}],
            "related-observations": [{"observation-uuid": obs}],
            "related-risks": [{"risk-uuid": risk}]})
    return {"plan-of-action-and-milestones": {
        "uuid": str(uuid.uuid5(_NS, f"{assessment_id}/poam")),
        "metadata": {"title": "Sovra sovereignty readiness plan", "version": assessment_id,
                     "oscal-version": "1.1.2", "last-modified": _rfc3339(now)},
        "observations": observations, "risks": risks, "poam-items": items}}


__all__ = ["PHASES", "Gap", "gaps", "phase_of", "poam"]
