"""Placement advice as a recorded operation: authorise, place, record, answer.

The one operation behind ``sovra placement advise`` and ``POST /placement/advise``;
both edges authorise ``placement.advise`` on ``Assessment::"placement"`` first (the
API's ``authorized`` dependency, the CLI's ``acting``), as every edge does.
The inventory and the rules are hashed into the ledger entry with every workload's
target, so an auditor can later show which rules placed which workload where.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sovra.assessment.placement.engine import Placement, place_all
from sovra.assessment.placement.inventory import load_inventory
from sovra.assessment.placement.rules import default_rules_text, load_rules
from sovra.identity import Caller
from sovra.vocabulary import LedgerSink


@dataclass(frozen=True)
class Advice:
    placements: list[Placement]
    inventory_sha256: str
    rules_sha256: str
    rules_name: str
    ledger_seq: int | None

    def as_dict(self) -> dict[str, object]:
        return {"inventory_sha256": self.inventory_sha256, "rules": self.rules_name,
                "rules_sha256": self.rules_sha256, "ledger_seq": self.ledger_seq,
                "placements": [p.as_dict() for p in self.placements]}


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def advise(ledger: LedgerSink, caller: Caller, inventory: str, *,
           inventory_name: str = "inventory", fmt: str | None = None,
           rules: str | None = None, rules_name: str = "rules") -> Advice:
    """Place every workload of ``inventory`` by ``rules`` (default set if None)."""
    rules_text = rules if rules is not None else default_rules_text()
    name = rules_name if rules is not None else "default_rules.yaml"
    placements = place_all(load_inventory(inventory, inventory_name, fmt),
                           load_rules(rules_text, name))
    inventory_sha, rules_sha = _sha256(inventory), _sha256(rules_text)
    receipt = ledger.append(caller.principal_id, "placement.advise",
                            f"placement:{inventory_sha[:16]}", "success", {
                                "inventory_sha256": inventory_sha, "rules_sha256": rules_sha,
                                "rules": name,
                                "placements": {p.workload.name: p.target.label
                                               for p in placements}})
    seq = getattr(receipt, "seq", None)
    return Advice(placements, inventory_sha, rules_sha, name,
                  seq if isinstance(seq, int) else None)


__all__ = ["Advice", "advise"]
