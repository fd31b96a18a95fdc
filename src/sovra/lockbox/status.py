"""What ``sovra lockbox status`` shows: pending requests, live grants, findings (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sovra.lockbox import lifecycle
from sovra.lockbox.values import AccessRequest, Limits, State, VoteKind

# Shown by `sovra up`, `sovra lockbox status` and GET /lockbox/status while it is off.
DEV_MODE_LOCKBOX_WARNING = (
    "LOCKBOX NOT ENFORCED - development mode: administrators read documents and destroy "
    "keys without an access grant. For production, use a custodian or HSM ceremony, or "
    "set SOVRA_LOCKBOX_ENFORCED=true."
)


@dataclass(frozen=True)
class LockboxStatus:
    """What ``sovra lockbox status`` shows; findings feed compliance reports."""

    pending: tuple[AccessRequest, ...]
    active: tuple[AccessRequest, ...]
    overdue_reviews: tuple[AccessRequest, ...]
    findings: tuple[str, ...]
    # False: administrators need no grant (development mode; ADR 0700 addendum).
    enforced: bool = True


def lockbox_status(everything: Sequence[AccessRequest], now: float,
                   limits: Limits, *, enforced: bool = True) -> LockboxStatus:
    """Sort requests by where they stand at ``now``; overdue reviews become findings."""
    states = [(r, lifecycle.state(r, now, limits)) for r in everything]
    overdue = tuple(r for r in everything if lifecycle.review_overdue(r, now, limits))
    return LockboxStatus(
        pending=tuple(r for r, s in states if s is State.PENDING),
        active=tuple(r for r, s in states if s is State.ACTIVE),
        overdue_reviews=overdue,
        enforced=enforced,
        findings=tuple(
            f"lockbox.review-overdue: break-glass grant {r.id} by {r.requester} has "
            f"{len(r.votes_of(VoteKind.REVIEW))} of {limits.review_quorum} reviews, "
            f"due {r.review_due:.0f}" for r in overdue))


__all__ = ["DEV_MODE_LOCKBOX_WARNING", "LockboxStatus", "lockbox_status"]
