"""The AI room's ledger events as typed values (ADR 0609).

An event is decided, then recorded: the gateway builds an ``Event`` and hands it to the
ledger at one place (``Gateway._record``), where ``fields`` turns it into the strings the
ledger's generic append takes. Outcomes are an enum, so a misspelt outcome is a type
error, not an entry an auditor's query never finds. A failure is built one way
(``Event.failure``): the error's class and message, and "denied" for a refusal by a
limit or by policy, "failure" for anything else.

Imports nothing of Sovra but the error tree and the port's field shape: a leaf.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from sovra.ai.ports import EntryFields
from sovra.errors import (
    OverloadedError,
    PermissionDeniedError,
    QuotaExceededError,
)

_REASON_CHARS = 500


class Outcome(StrEnum):
    """The outcome of a ledger entry, as the ledger and the compliance reports read it."""

    ALLOWED = "allowed"   # decided and let through (a policy allow, a governed request)
    DENIED = "denied"     # refused by policy, a limit or the classification ceiling
    SUCCESS = "success"   # the work was done (an answer produced)
    FAILURE = "failure"   # the work could not be done (bad input, a backend error)


# Refusals by a rule (a limit, a policy), recorded as "denied"; any other error "failure".
_REFUSALS = (QuotaExceededError, OverloadedError, PermissionDeniedError)


@dataclass(frozen=True, slots=True)
class Event:
    """One ledger entry, decided but not yet recorded."""

    actor: str
    action: str
    resource: str
    outcome: Outcome
    details: Mapping[str, object] | None = None

    def fields(self) -> EntryFields:
        """The ledger's append arguments: the one conversion to strings."""
        return (self.actor, self.action, self.resource, self.outcome.value, self.details)

    @classmethod
    def of_fields(cls, fields: EntryFields) -> Event:
        """An entry decided elsewhere (the API's policy decision) as an event."""
        actor, action, resource, outcome, details = fields
        return cls(actor, action, resource, Outcome(outcome), details)

    @classmethod
    def failure(cls, actor: str, action: str, resource: str, error: BaseException,
                details: Mapping[str, object] | None = None) -> Event:
        """The record of ``error`` stopping ``action``: the one shape of a failure."""
        outcome = Outcome.DENIED if isinstance(error, _REFUSALS) else Outcome.FAILURE
        return cls(actor, action, resource, outcome,
                   {**(details or {}), "error": type(error).__name__,
                    "reason": str(error)[:_REASON_CHARS]})


__all__ = ["Event", "Outcome"]
