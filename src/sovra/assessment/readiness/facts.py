"""What was observed for one criterion: met, unmet, or not evidenced, and from where.

A fact cites the ledger entries (sequence numbers) it was read from, so a reader can
look each one up (``sovra ledger show SEQ``) and prove it against a checkpoint. Pure.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any


class Status(Enum):
    MET = "met"
    UNMET = "unmet"
    # Nothing shows it either way (a room not built, a question not asked): never met.
    NOT_EVIDENCED = "not-evidenced"


@dataclass(frozen=True)
class Fact:
    criterion: str
    status: Status
    observed: str
    cites: tuple[int, ...] = ()  # ledger sequence numbers

    def as_dict(self) -> dict[str, Any]:
        return {"criterion": self.criterion, "status": self.status.value,
                "observed": self.observed, "ledger_entries": list(self.cites)}

    @classmethod
    def from_dict(cls, value: dict[str, Any]) -> Fact:
        return cls(str(value["criterion"]), Status(value["status"]), str(value["observed"]),
                   tuple(int(s) for s in value.get("ledger_entries", ())))


def met(criterion: str, observed: str, cites: tuple[int, ...] = ()) -> Fact:
    return Fact(criterion, Status.MET, observed, cites)


def unmet(criterion: str, observed: str, cites: tuple[int, ...] = ()) -> Fact:
    return Fact(criterion, Status.UNMET, observed, cites)


def not_evidenced(criterion: str, observed: str) -> Fact:
    return Fact(criterion, Status.NOT_EVIDENCED, observed)


def judged(criterion: str, ok: bool, observed: str, cites: tuple[int, ...] = ()) -> Fact:
    return Fact(criterion, Status.MET if ok else Status.UNMET, observed, cites)


__all__ = ["Fact", "Status", "judged", "met", "not_evidenced", "unmet"]
