"""The lockbox's values: scopes, limits, votes, and one access request with its grant.

A request and its grant are one record: a grant is a request whose quorum was met (or a
break-glass request, open at once). Everything here is a frozen value; the pure
``lifecycle`` module turns one value into the next, and the service stores it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from sovra.errors import InvalidInputError
from sovra.lockbox.catalogue import SCOPE_KINDS

HOUR = 3600.0
DAY = 24 * HOUR

# A document's collection, or None when the document is unknown.
CollectionOf = Callable[[str], str | None]


class Status(StrEnum):
    """What is stored. Expiry is not stored: it follows from the clock (``State``)."""

    PENDING = "pending"
    DENIED = "denied"
    ACTIVE = "active"
    REVOKED = "revoked"


class State(StrEnum):
    """Where a request stands at a given instant."""

    PENDING = "pending"
    REQUEST_EXPIRED = "request-expired"
    DENIED = "denied"
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"
    SPENT = "spent"  # a single-use grant after its use


class VoteKind(StrEnum):
    APPROVE = "approve"
    DENY = "deny"
    REVIEW = "review"  # after the fact, of a break-glass grant


@dataclass(frozen=True)
class Scope:
    """What a grant reaches: a collection, a document, a keyring, or the whole instance."""

    kind: str
    id: str = "*"

    @classmethod
    def parse(cls, text: str) -> Scope:
        """``collection:hr``, ``document:d-1``, ``keyring:k-1`` or ``instance``."""
        kind, _, ident = text.partition(":")
        if kind not in SCOPE_KINDS:
            raise InvalidInputError(
                f"lockbox.known-scope: unknown scope kind {kind!r}; use one of "
                f"{', '.join(sorted(SCOPE_KINDS))} (for example collection:hr)")
        if kind == "instance":
            if ident not in ("", "*"):
                raise InvalidInputError("lockbox.known-scope: the instance scope takes no id; "
                                        "write just 'instance'")
            return cls("instance", "*")
        if not ident or ident == "*":
            raise InvalidInputError(f"lockbox.known-scope: scope {kind} needs an id "
                                    f"(write {kind}:ID)")
        return cls(kind, ident)

    def __str__(self) -> str:
        return "instance" if self.kind == "instance" else f"{self.kind}:{self.id}"

    def covers(self, resource_type: str, resource_id: str, collection_of: CollectionOf) -> bool:
        """Whether a resource lies inside this scope (a wildcard id only in ``instance``)."""
        if resource_type not in SCOPE_KINDS[self.kind]:
            return False
        if self.kind == "instance":
            return True
        if resource_id == "*":
            return False
        if self.kind == "collection" and resource_type == "Document":
            return collection_of(resource_id) == self.id
        return resource_id == self.id


@dataclass(frozen=True)
class Limits:
    """Lifetimes and quorums the code enforces whatever the policy says.

    Defaults follow the issue (and Microsoft Customer Lockbox's outer bounds): requests
    wait 4 h (at most 4 days); a grant lasts 1 h (at most 8 h, ``grant_cap_s``).
    """

    request_ttl_s: float = 4 * HOUR
    request_ttl_max_s: float = 4 * DAY
    grant_default_s: float = HOUR
    grant_cap_s: float = 8 * HOUR
    breakglass_s: float = HOUR
    review_window_s: float = DAY
    review_quorum: int = 2
    denial_ends: bool = True
    # One request decides several times (the route, the document, its collection), so
    # a single-use grant serves everything within this window after its first use.
    single_use_window_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.request_ttl_s <= self.request_ttl_max_s <= 4 * DAY:
            raise InvalidInputError("lockbox limits: request lifetime must be within 4 days")
        if not 0 < self.grant_default_s <= self.grant_cap_s <= 8 * HOUR:
            raise InvalidInputError("lockbox limits: the grant cap is at most 8 hours")
        if not 0 < self.breakglass_s <= self.grant_cap_s:
            raise InvalidInputError("lockbox limits: break-glass must fit the grant cap")
        if self.review_quorum < 1:
            raise InvalidInputError("lockbox limits: review quorum must be at least 1")


@dataclass(frozen=True)
class RequestSpec:
    """What a requester asks for (validated by ``lifecycle.open_request``)."""

    scope: Scope
    actions: tuple[str, ...]
    reason: str
    ticket: str = ""
    duration_s: float | None = None  # None: the default grant lifetime
    urgency: str = "normal"
    single_use: bool = False
    request_ttl_s: float | None = None  # None: the default pending lifetime
    supervised: bool = False  # refused while no approver watches (sovra access watch)


@dataclass(frozen=True)
class Vote:
    """One approval, denial or review, with where it came from."""

    voter: str
    kind: VoteKind
    jurisdiction: str
    source: str
    at: float
    comment: str = ""


@dataclass(frozen=True)
class AccessRequest:
    """A request and, once approved (or opened by break-glass), its grant."""

    id: str
    requester: str
    jurisdiction: str
    source: str
    scope: Scope
    actions: tuple[str, ...]
    reason: str
    ticket: str
    duration_s: float
    urgency: str
    single_use: bool
    breakglass: bool
    tier: int
    destructive: bool
    required: int
    status: Status
    created_at: float
    request_expires_at: float
    last_event_at: float
    granted_at: float | None = None
    expires_at: float | None = None
    ended_at: float | None = None
    ended_by: str | None = None
    end_reason: str = ""
    first_used_at: float | None = None
    review_due: float | None = None
    votes: tuple[Vote, ...] = field(default=())
    ledger_seq: int | None = None
    supervised: bool = False

    def votes_of(self, kind: VoteKind) -> tuple[Vote, ...]:
        return tuple(v for v in self.votes if v.kind is kind)

    @property
    def approvals(self) -> int:
        return len(self.votes_of(VoteKind.APPROVE))


__all__ = ["DAY", "HOUR", "AccessRequest", "CollectionOf", "Limits", "RequestSpec", "Scope",
           "State", "Status", "Vote", "VoteKind"]
