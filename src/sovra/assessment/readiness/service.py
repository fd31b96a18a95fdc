"""A readiness assessment as a recorded operation: validate, observe, score, record.

The one operation behind ``sovra assess run`` and ``POST /assessment/run``; both edges
authorise ``assessment.run`` on ``Assessment::"readiness"`` first. The document's
SHA-256, the SEAL level and every layer's score go into the ledger entry, so a later
reader can show that a report is the one that was run, and when.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sovra.assessment.readiness import document, questionnaire
from sovra.assessment.readiness.dependencies import dependency_map
from sovra.assessment.readiness.observe import observe

if TYPE_CHECKING:
    from sovra.identity import Caller
    from sovra.instance import Instance


@dataclass(frozen=True)
class Assessment:
    document: dict[str, Any]
    sha256: str
    ledger_seq: int | None


def digest(doc: dict[str, Any]) -> str:
    body = {k: v for k, v in doc.items() if k != "ledger_seq"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":"))
                          .encode()).hexdigest()


def run(inst: Instance, caller: Caller, questionnaire_text: str | None = None, *,
        questionnaire_name: str = "questionnaire",
        clock: Callable[[], float] = time.time) -> Assessment:
    """Assess the instance now; bad questionnaires fail before anything is read."""
    answers = (questionnaire.load(questionnaire_text, questionnaire_name)
               if questionnaire_text is not None else None)
    now = clock()
    facts, _ = observe(inst, now)
    facts += questionnaire.facts(answers)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    assessment_id = f"assess-{stamp}-{inst.ledger.size}"
    q_sha = (hashlib.sha256(questionnaire_text.encode()).hexdigest()
             if questionnaire_text is not None else None)
    doc = document.build(facts, dependency_map(inst), assessment_id=assessment_id, now=now,
                         questionnaire_sha256=q_sha)
    sha = digest(doc)
    receipt = inst.ledger.append(caller.principal_id, "assessment.run",
                                 f"assessment/{assessment_id}", "success", {
                                     "sha256": sha, "seal": doc["seal"]["level"],
                                     "overall_percent": doc["seal"]["overall_percent"],
                                     "layers": {k: v["percent"]
                                                for k, v in doc["layers"].items()},
                                     "gaps": len(doc["gaps"]),
                                     "questionnaire_sha256": q_sha})
    seq = getattr(receipt, "seq", None)
    doc["ledger_seq"] = seq if isinstance(seq, int) else None
    return Assessment(doc, sha, doc["ledger_seq"])


__all__ = ["Assessment", "digest", "run"]
