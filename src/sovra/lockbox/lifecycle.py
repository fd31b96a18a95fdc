"""The lockbox's rules as a pure core: a request value and the time in, the next value out.

Every function takes the current time (design rule 6) and raises an error whose message
starts with the rule it enforces (``lockbox.no-self-approval: ...``), so the CLI, the
API and the ledger all name the rule. Nothing here stores or records anything: the
service records the outcome, then stores the value these functions return.

The rules policy can also express (who may approve, the quorum per tier) are decided
by Cedar in the service; the ones that must hold whatever a policy change says (the
requester never approves, nobody votes twice, lifetimes and caps) are enforced here.
"""

from __future__ import annotations

import dataclasses

from sovra.errors import ConflictError, InvalidInputError, PermissionDeniedError
from sovra.lockbox.catalogue import (
    ACTION_TYPES,
    DESTRUCTIVE_ACTIONS,
    PRIVILEGED_ACTIONS,
    SCOPE_KINDS,
    URGENCIES,
    expand_actions,
)
from sovra.lockbox.values import (
    AccessRequest,
    CollectionOf,
    Limits,
    RequestSpec,
    State,
    Status,
    Vote,
    VoteKind,
)


def _refuse_input(rule: str, message: str) -> InvalidInputError:
    return InvalidInputError(f"{rule}: {message}")


def validate_spec(spec: RequestSpec, limits: Limits, *, breakglass: bool = False
                  ) -> tuple[tuple[str, ...], float, float]:
    """(actions with those implied, grant duration, pending lifetime), or a rule error."""
    if not spec.reason.strip():
        raise _refuse_input("lockbox.reason-required",
                            "a request needs a reason (say why, and cite the ticket)")
    if not spec.actions:
        raise _refuse_input("lockbox.known-action", "name at least one privileged action")
    unknown = sorted(a for a in spec.actions if a not in PRIVILEGED_ACTIONS)
    if unknown:
        raise _refuse_input("lockbox.known-action",
                            f"not a privileged action: {', '.join(unknown)}; choose from "
                            f"{', '.join(sorted(PRIVILEGED_ACTIONS))}")
    reach = SCOPE_KINDS[spec.scope.kind]
    outside = sorted(a for a in spec.actions if not ACTION_TYPES[a] & reach)
    if outside:
        raise _refuse_input("lockbox.known-scope",
                            f"{', '.join(outside)} cannot apply to a {spec.scope.kind} scope")
    if spec.urgency not in URGENCIES:
        raise _refuse_input("lockbox.known-urgency",
                            f"urgency must be one of {', '.join(sorted(URGENCIES))}")
    cap = limits.breakglass_s if breakglass else limits.grant_cap_s
    default = limits.breakglass_s if breakglass else limits.grant_default_s
    duration = default if spec.duration_s is None else spec.duration_s
    if not 0 < duration <= cap:
        raise _refuse_input("lockbox.duration-cap",
                            f"duration {duration:g} s is outside 1..{cap:g} s; ask for less")
    ttl = limits.request_ttl_s if spec.request_ttl_s is None else spec.request_ttl_s
    if not 0 < ttl <= limits.request_ttl_max_s:
        raise _refuse_input("lockbox.request-ttl-cap",
                            f"a request may wait at most {limits.request_ttl_max_s:g} s")
    return expand_actions(spec.actions), duration, ttl


def is_destructive(actions: tuple[str, ...]) -> bool:
    return any(a in DESTRUCTIVE_ACTIONS for a in actions)


def state(req: AccessRequest, now: float, limits: Limits) -> State:
    """Where the request stands at ``now``."""
    if req.status is Status.PENDING:
        return State.PENDING if now < req.request_expires_at else State.REQUEST_EXPIRED
    if req.status is Status.DENIED:
        return State.DENIED
    if req.status is Status.REVOKED:
        return State.REVOKED
    if req.expires_at is None or now >= req.expires_at:
        return State.EXPIRED
    if (req.single_use and req.first_used_at is not None
            and now >= req.first_used_at + limits.single_use_window_s):
        return State.SPENT
    return State.ACTIVE


def check_clock(req: AccessRequest, now: float) -> None:
    """A clock behind the request's last event would reopen what has expired: refuse."""
    if now < req.last_event_at:
        raise ConflictError(
            f"lockbox.clock-monotonic: the clock reads {now:.3f}, before this request's "
            f"last event at {req.last_event_at:.3f}; fix the system clock (NTP) and retry")


def check_vote(req: AccessRequest, voter: str, kind: VoteKind, now: float,
               limits: Limits) -> None:
    """Refuse a vote that breaks a built-in rule (before policy is even asked)."""
    check_clock(req, now)
    if voter == req.requester:
        raise PermissionDeniedError(
            f"lockbox.no-self-approval: {voter} asked for {req.id} and cannot "
            f"{kind.value} it; another approver must", ("lockbox.no-self-approval",))
    if any(v.voter == voter for v in req.votes):
        raise PermissionDeniedError(
            f"lockbox.one-vote-per-approver: {voter} has already voted on {req.id}; "
            "a different approver must", ("lockbox.one-vote-per-approver",))
    now_state = state(req, now, limits)
    if kind is VoteKind.REVIEW:
        if not req.breakglass:
            raise ConflictError(f"lockbox.review-breakglass-only: {req.id} is not a "
                                "break-glass grant; approve or deny it instead")
        return
    if req.breakglass:
        raise ConflictError(f"lockbox.review-breakglass-only: {req.id} is a break-glass "
                            "grant; review it (sovra access review) instead")
    if now_state is State.REQUEST_EXPIRED:
        raise ConflictError(f"lockbox.request-expired: {req.id} expired unanswered at "
                            f"{req.request_expires_at:.0f}; the requester must ask again")
    if now_state is not State.PENDING:
        raise ConflictError(f"lockbox.pending-only: {req.id} is {now_state.value}; only "
                            "a pending request can be approved or denied")


def with_vote(req: AccessRequest, vote: Vote) -> AccessRequest:
    return dataclasses.replace(req, votes=(*req.votes, vote), last_event_at=vote.at)


def approve(req: AccessRequest, vote: Vote, quorum_met: bool) -> AccessRequest:
    """Add an approval; with the quorum met the grant's clock starts now."""
    done = with_vote(req, vote)
    if not quorum_met:
        return done
    return dataclasses.replace(done, status=Status.ACTIVE, granted_at=vote.at,
                               expires_at=vote.at + req.duration_s)


def deny(req: AccessRequest, vote: Vote, limits: Limits) -> AccessRequest:
    """Add a denial; by default one denial ends the request."""
    done = with_vote(req, vote)
    if not limits.denial_ends:
        return done
    return dataclasses.replace(done, status=Status.DENIED, ended_at=vote.at,
                               ended_by=vote.voter, end_reason=vote.comment or "denied")


def revoke(req: AccessRequest, by: str, reason: str, now: float,
           limits: Limits) -> AccessRequest:
    """End a pending request or a live grant now; the next decision no longer sees it."""
    check_clock(req, now)
    now_state = state(req, now, limits)
    if now_state not in (State.PENDING, State.ACTIVE):
        raise ConflictError(f"lockbox.revoke-live-only: {req.id} is already "
                            f"{now_state.value}; nothing to revoke")
    return dataclasses.replace(req, status=Status.REVOKED, ended_at=now, ended_by=by,
                               end_reason=reason or "revoked", last_event_at=now)


def review(req: AccessRequest, vote: Vote) -> AccessRequest:
    return with_vote(req, vote)


def review_overdue(req: AccessRequest, now: float, limits: Limits) -> bool:
    """A break-glass grant not reviewed by enough approvers within the window."""
    return (req.breakglass and req.review_due is not None and now > req.review_due
            and len(req.votes_of(VoteKind.REVIEW)) < limits.review_quorum)


def why_unusable(req: AccessRequest, action: str, resource_type: str, resource_id: str, *,
                 now: float, limits: Limits, collection_of: CollectionOf) -> str | None:
    """None when the grant lets ``action`` on the resource happen at ``now``, else why not."""
    now_state = state(req, now, limits)
    if now_state is not State.ACTIVE:
        return f"grant {req.id} is {now_state.value}"
    if req.granted_at is not None and now < req.granted_at:
        return f"grant {req.id} starts later (clock behind its approval)"
    if action not in req.actions:
        return f"grant {req.id} does not cover {action}"
    if not req.scope.covers(resource_type, resource_id, collection_of):
        return f"grant {req.id} is scoped to {req.scope}"
    return None


def mark_used(req: AccessRequest, now: float) -> AccessRequest:
    if req.first_used_at is not None:
        return req
    return dataclasses.replace(req, first_used_at=now, last_event_at=max(now, req.last_event_at))


__all__ = ["approve", "check_clock", "check_vote", "deny", "is_destructive", "mark_used",
           "review", "review_overdue", "revoke", "state", "validate_spec", "why_unusable",
           "with_vote"]
