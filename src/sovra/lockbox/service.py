"""The lockbox service: the only place access requests change, each change recorded.

Every operation follows the house rule "record, then act": the pure core
(``lifecycle``) computes the next value, the ledger records the event durably, and only
then is the value stored (conditionally, so a concurrent change loses cleanly). A
refused operation is recorded too, with the rule that refused it, and changes nothing.
Cedar decides who may request, approve, deny, review and revoke, and how many approvals
a request needs (``60-lockbox.cedar``); the rules that must hold whatever the policy says
are enforced by the core as well.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager

from sovra.errors import ConflictError, InvalidInputError, PermissionDeniedError, SovraError
from sovra.lockbox import lifecycle
from sovra.lockbox.grants import GrantIndex, grant_context
from sovra.lockbox.notify import ALERT, NOTICE, Notice
from sovra.lockbox.report import LedgerReader, Report, build_report
from sovra.lockbox.resolvers import Resolvers
from sovra.lockbox.status import LockboxStatus, lockbox_status
from sovra.lockbox.store import RequestStore
from sovra.lockbox.values import (
    AccessRequest,
    Limits,
    RequestSpec,
    Scope,
    State,
    Status,
    Vote,
    VoteKind,
)
from sovra.lockbox.watch import Watch, WatchEvent, WatchHub
from sovra.policy import Decision, PolicyService, Resource
from sovra.vocabulary import Caller, LedgerSink

log = logging.getLogger(__name__)

# The lockbox itself asks Cedar whether a quorum is met (no person decides that).
LOCKBOX = Caller("lockbox", "service", frozenset(), "public")
_QUORUM_MAX = 9
SECRET = 3


def request_resource(req: AccessRequest, approvals: int | None = None) -> Resource:
    """The request as the Cedar ``AccessRequest`` entity the approval rules read."""
    voters = [{"__entity": {"type": "Principal", "id": v.voter}} for v in req.votes]
    return Resource("AccessRequest", req.id, {
        "requester": req.requester, "jurisdiction": req.jurisdiction, "tier": req.tier,
        "destructive": req.destructive, "breakglass": req.breakglass,
        "approvals": req.approvals if approvals is None else approvals, "voters": voters,
        "ticket": req.ticket})


def _seq(receipt: object) -> int | None:
    """The sequence number of a ledger receipt (``sovra.ledger.Receipt``)."""
    seq = getattr(receipt, "seq", None)
    return seq if isinstance(seq, int) else None


def _rule(exc: SovraError) -> str:
    head = str(exc).split(":", 1)[0]
    return head if head.startswith("lockbox.") else type(exc).__name__


class LockboxService:
    def __init__(self, store: RequestStore, ledger: LedgerSink, policy: PolicyService,
                 resolvers: Resolvers, *, limits: Limits | None = None,
                 clock: Callable[[], float] = time.time,
                 new_id: Callable[[], str] = lambda: "ar-" + secrets.token_hex(6),
                 refresh_s: float = 1.0) -> None:
        self._store = store
        self._ledger = ledger
        self._policy = policy
        self._resolvers = resolvers
        self.limits = limits or Limits()
        self._clock = clock
        self._new_id = new_id
        # Called with every notice after its event is recorded and stored (notify.Notifier).
        self.notifiers: list[Callable[[Notice], None]] = []
        self.watch = WatchHub()
        self.index = GrantIndex(store, clock, self.limits, self._document_collection,
                                refresh_s=refresh_s)

    # -- helpers --------------------------------------------------------------------

    def _document_collection(self, document_id: str) -> str | None:
        place = self._resolvers.document_place(document_id)
        return None if place is None else place[0]

    def _require(self, caller: Caller, action: str, resource: Resource) -> None:
        """Policy's decision (recorded); a refusal's message names the deciding rules."""
        try:
            self._policy.require(caller, action, resource)
        except PermissionDeniedError as exc:
            rules = ", ".join(exc.reasons) or "no policy permits it"
            raise PermissionDeniedError(f"{exc} (decided by: {rules})", exc.reasons) from exc

    @contextmanager
    def _recorded_refusals(self, caller: Caller, event: str, target: str) -> Iterator[None]:
        """Record any refusal (with its rule) before it reaches the caller."""
        try:
            yield
        except SovraError as exc:
            self._ledger.append(caller.principal_id, event, f"lockbox/{target}", "denied",
                                {"rule": _rule(exc), "error": str(exc)})
            raise

    def _store_change(self, actor: str, event: str, before: AccessRequest,
                      after: AccessRequest, details: dict[str, object], *,
                      vote: Vote | None = None) -> AccessRequest:
        """Record, then store; a store that fails after the record is recorded too."""
        self._ledger.append(actor, event, f"lockbox/{before.id}", "success", details)
        try:
            self._store.replace(before, after, vote)
        except SovraError as exc:
            self._ledger.append(actor, event, f"lockbox/{before.id}", "failure",
                                {"rule": _rule(exc), "error": str(exc)})
            raise
        self.index.put(after)
        return after

    def _tier(self, scope: Scope) -> int:
        """The classification level a scope reaches, or ``lockbox.known-scope``."""
        level: int | None
        if scope.kind == "collection":
            level = self._resolvers.collection_level(scope.id)
        elif scope.kind == "document":
            place = self._resolvers.document_place(scope.id)
            level = None if place is None else place[1]
        elif scope.kind == "keyring":
            level = SECRET if self._resolvers.keyring_exists(scope.id) else None
        else:
            level = SECRET  # the whole instance reaches everything
        if level is None:
            raise InvalidInputError(f"lockbox.known-scope: there is no {scope.kind} "
                                    f"{scope.id!r}; check the id")
        return level

    def required_approvals(self, req: AccessRequest) -> int:
        """The fewest approvals the active policy accepts for this request (Cedar)."""
        for count in range(1, _QUORUM_MAX + 1):
            if self._policy.decide(LOCKBOX, "lockbox.activate",
                                   request_resource(req, count)).allowed:
                return count
        raise InvalidInputError(f"lockbox.quorum: the active policy accepts no quorum up "
                                f"to {_QUORUM_MAX} approvals for tier {req.tier}; fix the "
                                "lockbox-quorum policy")

    def _new(self, caller: Caller, spec: RequestSpec, source: str, *,
             breakglass: bool) -> AccessRequest:
        actions, duration, ttl = lifecycle.validate_spec(spec, self.limits,
                                                         breakglass=breakglass)
        now = self._clock()
        req = AccessRequest(
            id=self._new_id(), requester=caller.principal_id,
            jurisdiction=caller.jurisdiction, source=source, scope=spec.scope,
            actions=actions, reason=spec.reason.strip(), ticket=spec.ticket,
            duration_s=duration, urgency=spec.urgency, single_use=spec.single_use,
            breakglass=breakglass, tier=self._tier(spec.scope), supervised=spec.supervised,
            destructive=lifecycle.is_destructive(actions), required=1,
            status=Status.PENDING, created_at=now, request_expires_at=now + ttl,
            last_event_at=now)
        return dataclasses.replace(req, required=self.required_approvals(req))

    @staticmethod
    def _describe(req: AccessRequest) -> dict[str, object]:
        return {"requester": req.requester, "jurisdiction": req.jurisdiction,
                "source": req.source, "scope": str(req.scope), "actions": list(req.actions),
                "reason": req.reason, "ticket": req.ticket, "duration_s": req.duration_s,
                "urgency": req.urgency, "single_use": req.single_use, "tier": req.tier,
                "supervised": req.supervised,
                "required_approvals": req.required}

    # -- requests -------------------------------------------------------------------

    def request(self, caller: Caller, spec: RequestSpec, *, source: str = "") -> AccessRequest:
        """Ask for a grant; it waits for approvals until it expires."""
        with self._recorded_refusals(caller, "lockbox.request", "new"):
            req = self._new(caller, spec, source, breakglass=False)
            # Decided on the request itself, so a policy can read its tier, its ticket...
            self._require(caller, "lockbox.request", request_resource(req))
        receipt = self._ledger.append(
            caller.principal_id, "lockbox.request", f"lockbox/{req.id}", "success",
            {**self._describe(req), "request_expires_at": req.request_expires_at})
        req = dataclasses.replace(req, ledger_seq=_seq(receipt))
        self._store.insert(req)
        self._notify("lockbox.request", req,
                     f"{req.requester} ({req.jurisdiction or 'no jurisdiction'}) asks for "
                     f"{', '.join(req.actions)} on {req.scope} for {req.duration_s:g} s: "
                     f"{req.reason}; {req.required} approval(s) needed")
        return req

    def _vote(self, caller: Caller, request_id: str, kind: VoteKind, source: str,
              comment: str) -> AccessRequest:
        action = {VoteKind.APPROVE: "lockbox.approve", VoteKind.DENY: "lockbox.deny",
                  VoteKind.REVIEW: "lockbox.review"}[kind]
        with self._recorded_refusals(caller, action, request_id):
            req = self._store.get(request_id)
            now = self._clock()
            lifecycle.check_vote(req, caller.principal_id, kind, now, self.limits)
            self._require(caller, action, request_resource(req))
            vote = Vote(caller.principal_id, kind, caller.jurisdiction, source, now, comment)
            if kind is VoteKind.APPROVE:
                count = req.approvals + 1
                met = self._policy.decide(LOCKBOX, "lockbox.activate",
                                          request_resource(req, count)).allowed
                after = lifecycle.approve(req, vote, met)
            elif kind is VoteKind.DENY:
                after = lifecycle.deny(req, vote, self.limits)
            else:
                after = lifecycle.review(req, vote)
        details: dict[str, object] = {"jurisdiction": vote.jurisdiction, "source": source,
                                      "comment": comment, "status": after.status.value}
        if kind is VoteKind.APPROVE:
            details.update(approvals=after.approvals, required=req.required)
            if after.status is Status.ACTIVE:
                details.update(granted_at=after.granted_at, expires_at=after.expires_at)
        if kind is VoteKind.REVIEW:
            details["reviews"] = len(after.votes_of(VoteKind.REVIEW))
        done = self._store_change(caller.principal_id, action, req, after, details, vote=vote)
        if done.status is not req.status or kind is VoteKind.REVIEW:
            self._notify(f"{action}", done, f"{caller.principal_id} {kind.value}d {done.id}: "
                         f"now {done.status.value}" + (f" until {done.expires_at:.0f}"
                                                       if done.status is Status.ACTIVE else ""))
        return done

    def approve(self, caller: Caller, request_id: str, *, source: str = "",
                comment: str = "") -> AccessRequest:
        """Approve; the last approval of the quorum opens the grant (its clock starts)."""
        return self._vote(caller, request_id, VoteKind.APPROVE, source, comment)

    def deny(self, caller: Caller, request_id: str, *, source: str = "",
             comment: str = "") -> AccessRequest:
        return self._vote(caller, request_id, VoteKind.DENY, source, comment)

    def review(self, caller: Caller, request_id: str, *, source: str = "",
               comment: str = "") -> AccessRequest:
        """Review a break-glass grant after the fact (M reviewers within the window)."""
        return self._vote(caller, request_id, VoteKind.REVIEW, source, comment)

    def revoke(self, caller: Caller, request_id: str, *, reason: str = "") -> AccessRequest:
        """End a request or grant now; the next decision in any process refuses it."""
        with self._recorded_refusals(caller, "lockbox.revoke", request_id):
            req = self._store.get(request_id)
            self._require(caller, "lockbox.revoke", request_resource(req))
            after = lifecycle.revoke(req, caller.principal_id, reason, self._clock(),
                                     self.limits)
        done = self._store_change(caller.principal_id, "lockbox.revoke", req, after,
                                  {"reason": after.end_reason})
        self.watch.publish(done.id, WatchEvent("ended", {
            "state": State.REVOKED.value, "by": caller.principal_id,
            "reason": done.end_reason, "at": done.ended_at}))
        self._notify("lockbox.revoke", done,
                     f"{caller.principal_id} revoked {done.id}: {done.end_reason}")
        return done

    def breakglass(self, caller: Caller, spec: RequestSpec, *, source: str = ""
                   ) -> AccessRequest:
        """Open an emergency grant at once; alerts now, reviewed by M approvers later."""
        with self._recorded_refusals(caller, "lockbox.breakglass", "new"):
            self._require(caller, "lockbox.breakglass", Resource("AccessRequest"))
            req = self._new(caller, spec, source, breakglass=True)
        now = req.created_at
        req = dataclasses.replace(req, status=Status.ACTIVE, granted_at=now,
                                  expires_at=now + req.duration_s,
                                  review_due=now + self.limits.review_window_s)
        details = {**self._describe(req), "expires_at": req.expires_at,
                   "review_due": req.review_due, "alert": True}
        receipt = self._ledger.append(caller.principal_id, "lockbox.breakglass",
                                      f"lockbox/{req.id}", "success", details)
        req = dataclasses.replace(req, ledger_seq=_seq(receipt))
        self._store.insert(req)
        self.index.put(req)
        self._notify("lockbox.breakglass", req,
                     f"BREAK-GLASS: {req.requester} opened {', '.join(req.actions)} on "
                     f"{req.scope} until {req.expires_at:.0f} without approval: {req.reason}; "
                     f"review due {req.review_due:.0f}", severity=ALERT)
        return req

    def _notify(self, event: str, req: AccessRequest, text: str, *,
                severity: int = NOTICE) -> None:
        """Tell people (after the record): a notifier failing never undoes the event."""
        if severity <= ALERT:
            log.warning("ALERT %s %s: %s", event, req.id, text)
        notice = Notice(event, req.id, req.requester, str(req.scope), text, severity,
                        {"actions": list(req.actions), "ticket": req.ticket})
        for notify in self.notifiers:
            try:
                notify(notice)
            except Exception:  # the event is recorded and stored; only the notice is lost
                log.exception("lockbox notifier failed for %s", event)

    def close(self) -> None:
        """Deliver what notifiers still hold, then stop them."""
        for notify in self.notifiers:
            close = getattr(notify, "close", None)
            if callable(close):
                close()

    # -- reading --------------------------------------------------------------------

    def get(self, request_id: str) -> AccessRequest:
        return self._store.get(request_id)

    def state(self, req: AccessRequest) -> State:
        return lifecycle.state(req, self._clock(), self.limits)

    def list(self, *, since: float | None = None, requester: str | None = None
             ) -> list[AccessRequest]:
        return self._store.query(since=since, requester=requester)

    def status(self) -> LockboxStatus:
        """Pending requests, live grants, and findings (overdue break-glass reviews)."""
        return lockbox_status(self._store.query(limit=100_000), self._clock(), self.limits,
                              enforced=self._policy.lockbox_enforced)

    def report(self, ledger: LedgerReader, *, since: float) -> Report:
        """Evidence for every request since ``since``, with the ledger's proofs."""
        requests = self._store.query(since=since, limit=100_000)
        return build_report(requests, ledger, self.state, since)

    # -- decisions (the policy service's grant source) --------------------------------

    def holds_grant(self, principal_id: str) -> bool:
        return self.index.holds_grant(principal_id)

    def context_for(self, caller: Caller, action: str, resource: Resource
                    ) -> Mapping[str, object] | None:
        """Cedar context for a request a live grant covers, else None (the usual case)."""
        found = self.index.candidate(caller, action, resource)
        if found is None:
            return None
        fresh, why = self.index.confirm(found, action, resource)
        if why is not None:
            return None
        if fresh.supervised and not self.watch.watchers(fresh.id):
            rule = "lockbox.supervised-unwatched"
            self._ledger.append(caller.principal_id, "lockbox.use", f"lockbox/{fresh.id}",
                                "denied", {"rule": rule, "action": action,
                                           "resource": resource.uid,
                                           "error": f"{rule}: no approver is watching this "
                                           "supervised grant; one must run sovra access watch"})
            return None
        return grant_context(fresh)

    def decided(self, grant_id: str, decision: Decision) -> None:
        """A decision was made under the grant: watchers see it; an allow spends a
        single-use grant."""
        self.watch.publish(grant_id, WatchEvent("decision", {
            "principal": decision.principal_id, "action": decision.action,
            "resource": decision.resource, "outcome": decision.outcome,
            "policies": list(decision.policy_ids), "at": self._clock()}))
        if decision.allowed:
            self._spend(grant_id)

    def watch_grant(self, caller: Caller, grant_id: str, *, source: str = "") -> Watch:
        """Open a live watch on a pending or active grant (approvers, never its requester)."""
        with self._recorded_refusals(caller, "lockbox.watch", grant_id):
            req = self._store.get(grant_id)
            if caller.principal_id == req.requester:
                raise PermissionDeniedError(
                    f"lockbox.no-self-supervision: {caller.principal_id} asked for {grant_id} "
                    "and cannot supervise it; an approver must watch",
                    ("lockbox.no-self-supervision",))
            self._require(caller, "lockbox.watch", request_resource(req))
            now_state = self.state(req)
            if now_state not in (State.PENDING, State.ACTIVE):
                raise ConflictError(f"lockbox.watch-live-only: {grant_id} is "
                                    f"{now_state.value}; nothing to watch")
        self._ledger.append(caller.principal_id, "lockbox.watch", f"lockbox/{grant_id}",
                            "success", {"source": source, "supervised": req.supervised})
        return self.watch.join(grant_id, caller.principal_id)

    def _spend(self, grant_id: str) -> None:
        """A decision allowed something under the grant: a single-use grant is now spent."""
        known = self.index.known(grant_id)
        if known is not None and (not known.single_use or known.first_used_at is not None):
            return  # nothing to record: the common case costs no database read
        grant = self._store.get(grant_id)
        if not grant.single_use or grant.first_used_at is not None:
            return
        after = lifecycle.mark_used(grant, self._clock())
        self._store_change(grant.requester, "lockbox.use", grant, after,
                           {"single_use": True, "first_used_at": after.first_used_at})


__all__ = ["LOCKBOX", "LockboxService", "LockboxStatus", "request_resource"]
