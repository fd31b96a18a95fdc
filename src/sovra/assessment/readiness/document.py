"""The assessment as one JSON document, and the diff of two of them over time. Pure.

``build`` takes the facts (instance and questionnaire) and the dependency map and
derives everything else: scores, SEAL level, gaps, the phased plan and the answers to
the buyer's questions. ``diff`` compares two documents criterion by criterion.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sovra.assessment.readiness import plan, questions, scoring
from sovra.assessment.readiness.criteria import BY_ID, CRITERIA, OBJECTIVES
from sovra.assessment.readiness.dependencies import Dependency
from sovra.assessment.readiness.facts import Fact, Status
from sovra.errors import InvalidInputError

FORMAT = "sovra-readiness/1"


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def build(facts: Sequence[Fact], dependencies: Sequence[Dependency], *, assessment_id: str,
          now: float, questionnaire_sha256: str | None) -> dict[str, Any]:
    known = {f.criterion for f in facts}
    missing = [c.id for c in CRITERIA if c.id not in known]
    if missing:  # every criterion is judged, or the score would flatter the instance
        raise InvalidInputError(f"no fact for criteria {missing}")
    layers = scoring.layer_scores(facts)
    objectives = scoring.objective_scores(facts)
    found = plan.gaps(facts)
    return {
        "format": FORMAT, "id": assessment_id, "generated_at": rfc3339(now),
        "questionnaire": {"given": questionnaire_sha256 is not None,
                          "sha256": questionnaire_sha256},
        "seal": scoring.seal(facts).as_dict(),
        "layers": {k: v.as_dict() for k, v in layers.items()},
        "objectives": {k: {**v.as_dict(), "title": OBJECTIVES[k][0],
                           "framework_weight_percent": OBJECTIVES[k][1],
                           "seal_level": scoring.level_of(v.percent)}
                       for k, v in objectives.items()},
        "criteria": [{"id": c.id, "layer": c.layer, "title": c.title, "kind": c.kind.value,
                      "mandatory": c.mandatory, "weight": c.weight, "objective": c.objective,
                      "source": c.source.value, **_fact(facts, c.id)} for c in CRITERIA],
        "gaps": [g.as_dict() for g in found],
        "plan": plan.poam(found, assessment_id=assessment_id, now=now),
        "questions": [a.as_dict() for a in questions.answer_all(facts, len(dependencies))],
        "dependencies": [d.as_dict() for d in dependencies],
    }


def _fact(facts: Sequence[Fact], criterion: str) -> dict[str, Any]:
    fact = next(f for f in facts if f.criterion == criterion)
    return {"status": fact.status.value, "observed": fact.observed,
            "ledger_entries": list(fact.cites)}


def check(doc: Any, name: str) -> dict[str, Any]:
    """A document this module wrote, or an error naming what is wrong with it."""
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InvalidInputError(f"{name} is not a Sovra readiness assessment (format "
                                f"{FORMAT}); write one with `sovra assess run --out`")
    for key in ("id", "seal", "layers", "criteria"):
        if key not in doc:
            raise InvalidInputError(f"{name} has no {key!r}: the file is damaged")
    # Everything the report and the diff read must be there with its type: a damaged or
    # hand-edited document is the caller's error (400), never a crash in the renderer.
    from sovra.assessment.readiness.render import html

    try:
        html(doc)
        diff(doc, doc)
    except (KeyError, TypeError, ValueError, AttributeError, IndexError,
            OverflowError) as exc:
        raise InvalidInputError(f"{name} is damaged ({type(exc).__name__}: {exc}): write "
                                "it again with `sovra assess run --out`") from exc
    return doc


def diff(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """What changed between two assessments: SEAL, layer scores, and each criterion."""
    before = {c["id"]: c for c in old["criteria"]}
    changed = []
    for c in new["criteria"]:
        was = before.get(c["id"])
        if was is None or was["status"] != c["status"]:
            crit = BY_ID.get(c["id"])
            changed.append({"criterion": c["id"], "from": was["status"] if was else None,
                            "to": c["status"], "weight": crit.weight if crit else None,
                            "layer": c["layer"], "observed": c["observed"]})
    return {
        "from": {"id": old["id"], "generated_at": old.get("generated_at")},
        "to": {"id": new["id"], "generated_at": new.get("generated_at")},
        "seal": {"from": old["seal"]["level"], "to": new["seal"]["level"]},
        "layers": {k: {"from": old["layers"].get(k, {}).get("percent"),
                       "to": v["percent"],
                       "change": round(v["percent"]
                                       - float(old["layers"].get(k, {}).get("percent", 0.0)),
                                       1)}
                   for k, v in new["layers"].items()},
        "criteria": changed,
        "now_met": [c["criterion"] for c in changed if c["to"] == Status.MET.value],
        "no_longer_met": [c["criterion"] for c in changed
                          if c["from"] == Status.MET.value],
    }


__all__ = ["FORMAT", "build", "check", "diff", "rfc3339"]
