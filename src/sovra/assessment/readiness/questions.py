"""The buyer's eight questions, each answered from the instance's facts (with ledger
references) or marked "not evidenced" when nothing Sovra holds shows it. Pure."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sovra.assessment.readiness.facts import Fact, Status

NOT_EVIDENCED = "not evidenced"

QUESTIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("access", "Who can access the data?",
     ("access.deny-default", "access.policy-four-eyes", "operation.breakglass-reviews")),
    ("keys", "Where are the keys?", ("data.custody", "data.hsm")),
    ("emergency", "What happens in an emergency support scenario?",
     ("operation.lockbox", "operation.review-quorum", "operation.breakglass-reviews")),
    ("offline", "Can it operate offline?",
     ("ai.local-inference", "compliance.egress", "operation.patch-lag")),
    ("privileged-audit", "How is privileged access audited?",
     ("operation.breakglass-reviews", "infrastructure.witness",
      "infrastructure.ledger-integrity", "compliance.evidence-report")),
    ("extraterritorial", ("What obligations does the provider have under extraterritorial "
     "laws?"), ("compliance.extraterritorial",)),
    ("suppliers", "Which parts depend on which supplier or operator?",
     ("compliance.supplier-contracts", "infrastructure.hardware-supply")),
    ("recovery", "How is recovery validated?", ("continuity.drill", "continuity.backup")),
)


@dataclass(frozen=True)
class Answer:
    id: str
    question: str
    answer: str
    evidenced: bool
    ledger_entries: tuple[int, ...]

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "question": self.question, "answer": self.answer,
                "evidenced": self.evidenced, "ledger_entries": list(self.ledger_entries)}


def answer_all(facts: Iterable[Fact], dependencies: int) -> list[Answer]:
    by_id = {f.criterion: f for f in facts}
    out = []
    for qid, question, criteria in QUESTIONS:
        seen = [by_id[c] for c in criteria if c in by_id
                and by_id[c].status is not Status.NOT_EVIDENCED]
        parts = [f"{f.observed} [{f.criterion}: {f.status.value}]" for f in seen]
        if qid == "suppliers" and dependencies:
            parts.insert(0, f"{dependencies} components in the dependency map, each with "
                            "supplier, operator and jurisdiction where known")
        cites = tuple(sorted({s for f in seen for s in f.cites}))
        out.append(Answer(qid, question, "; ".join(parts) if parts else NOT_EVIDENCED,
                          bool(parts), cites))
    return out


__all__ = ["NOT_EVIDENCED", "QUESTIONS", "Answer", "answer_all"]
