"""The policy service: the active policy set, decisions recorded, versioned changes.

``decide`` answers from the cached, parsed policy set (no database, no ledger).
``require`` decides, records the decision in the ledger, and raises on deny; if the
ledger cannot record, ``LedgerUnavailableError`` propagates and the request is
refused (no record, no access). Changes are proposed, validated against the schema
(the active version stays active if they do not validate), approved by an approver
who is not the proposer, and recorded with the SHA-256 of their diff.
"""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import hashlib
import threading
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from sovra.errors import ConflictError, PermissionDeniedError
from sovra.policy.decision import Decision, Resource
from sovra.policy.engine import CompiledPolicies, default_policy_text
from sovra.policy.segregation import BUILT_IN, refuse_self_approval
from sovra.policy.versions import PolicyVersion, VersionStore
from sovra.store import ChangeFeed
from sovra.vocabulary import Caller, LedgerSink

SYSTEM = "system"


class GrantSource(Protocol):
    """The lockbox, as decisions see it (``sovra.lockbox.LockboxService``)."""

    def holds_grant(self, principal_id: str) -> bool: ...

    def context_for(self, caller: Caller, action: str, resource: Resource
                    ) -> Mapping[str, object] | None: ...

    def decided(self, grant_id: str, decision: Decision) -> None: ...


def unified_diff(old: str, new: str, old_name: str, new_name: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True),
                                        new.splitlines(keepends=True), old_name, new_name))


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class PolicyService:
    def __init__(self, versions: VersionStore, ledger: LedgerSink, *,
                 clock: Callable[[], float] = time.time, refresh_s: float = 5.0) -> None:
        self._versions = versions
        self._ledger = ledger
        self._clock = clock
        self._refresh_s = refresh_s
        self._lock = threading.Lock()
        self._active = self._load_or_seed()
        self._checked_at = time.monotonic()
        self._grants: GrantSource | None = None
        # None: the lockbox boxes administrators too (the default). Otherwise asked per
        # decision, so a development-mode ceremony created after open is seen at once.
        self._lockbox_off: Callable[[], bool] | None = None
        self._feed: ChangeFeed | None = None  # other processes' activations (issue 22)

    def use_grants(self, grants: GrantSource | None) -> None:
        """Let every decision see a live lockbox grant covering it (``sovra.lockbox``);
        None: no lockbox (the benchmark's baseline)."""
        self._grants = grants

    def unsafe_lockbox_off(self, off: Callable[[], bool] | None) -> None:
        """While ``off()`` is true, Cedar sees ``context.lockbox_enforced`` false, so the
        default pack's administrator permits for data and key destruction apply without
        a grant (development mode only; ADR 0700 addendum). None: always enforced."""
        self._lockbox_off = off

    @property
    def lockbox_enforced(self) -> bool:
        """Whether decisions now see the lockbox enforced (shown by status and `up`)."""
        off = self._lockbox_off
        return off is None or not off()

    def grant_holder(self, principal_id: str) -> bool:
        """Whether decisions for this principal may depend on a grant (never memoise)."""
        return self._grants is not None and self._grants.holds_grant(principal_id)

    def _load_or_seed(self) -> CompiledPolicies:
        active = self._versions.active()
        if active is None:
            active = self._seed()
        return CompiledPolicies(active.text, version=active.version,
                                source=f"policy version {active.version}")

    def _seed(self) -> PolicyVersion:
        """Install the default pack as version 1 (first start of an instance)."""
        text = default_policy_text()
        diff = unified_diff("", text, "empty", "default")
        now = self._clock()
        # Inserted active in one statement, so a concurrent starter either wins or sees
        # the conflict and then finds this row already active.
        seed = PolicyVersion(1, text, _sha256(text), diff, _sha256(diff), None, "active",
                             "default policy pack", SYSTEM, now, SYSTEM, now)
        self._ledger.append(SYSTEM, "policy.activate", "policy:1", "success",
                            {"sha256": seed.sha256, "diff_sha256": seed.diff_sha256,
                             "comment": seed.comment})
        with contextlib.suppress(ConflictError):  # another process seeded it first
            self._versions.insert(seed)
        found = self._versions.active()
        if found is None:
            raise ConflictError("no active policy version after seeding")
        return found

    @property
    def active(self) -> CompiledPolicies:
        """The active policy set; re-read when another process activated a newer one."""
        now = time.monotonic()
        if now - self._checked_at >= self._refresh_s:
            self._checked_at = now
            number = self._versions.active_number()
            if number is not None and number != self._active.version:
                self._reload()
        return self._active

    def _reload(self) -> None:
        with self._lock:
            self._active = self._load_or_seed()

    def use_changes(self, feed: ChangeFeed) -> None:
        """Share activations with the other processes of the database (issue 22): a
        version activated elsewhere decides here within a second."""
        self._feed = feed
        feed.subscribe("policy", self._reload)

    # -- decisions ------------------------------------------------------------------

    def decide(self, caller: Caller, action: str, resource: Resource,
               context: Mapping[str, object] | None = None) -> Decision:
        """The decision of the active policy set; records nothing."""
        if not caller.permits_action(action):
            why = f"credential {caller.via or '(unnamed)'} is not scoped for {action}"
            return Decision.refused(caller.principal_id, action, resource.uid, why)
        # Before Cedar: no policy version can let a requester approve its own change.
        refused = refuse_self_approval(caller, action, resource, context)
        if refused is not None:
            return refused
        off = self._lockbox_off
        if off is not None and off():
            context = {**(context or {}), "lockbox_enforced": False}
        grants = self._grants
        extra = None if grants is None else grants.context_for(caller, action, resource)
        if extra is None:
            return self.active.decide(caller, action, resource, context)
        # Under a grant: Cedar sees it, the decision (and so the ledger) cites it.
        decision = dataclasses.replace(
            self.active.decide(caller, action, resource, {**(context or {}), **extra}),
            grant_id=str(extra["grant_id"]))
        if grants is not None:  # watchers see it; a single-use grant is spent by an allow
            grants.decided(str(extra["grant_id"]), decision)
        return decision

    def require(self, caller: Caller, action: str, resource: Resource,
                context: Mapping[str, object] | None = None) -> Decision:
        """Decide, record the decision in the ledger, raise ``PermissionDeniedError``."""
        decision = self.decide(caller, action, resource, context)
        details = decision.ledger_details()
        details["policy_version"] = self._active.version
        if caller.via:
            details["credential"] = caller.via
        self._ledger.append(caller.principal_id, "policy.decision", resource.uid,
                            decision.outcome, details)
        if not decision.allowed:
            raise PermissionDeniedError(
                f"{caller.principal_id} may not {action} on {resource.uid}", decision.reasons)
        return decision

    # -- versions -------------------------------------------------------------------

    def show(self) -> PolicyVersion:
        found = self._versions.active()
        if found is None:
            raise ConflictError("no active policy version")
        return found

    def versions(self) -> list[PolicyVersion]:
        return self._versions.all()

    def get(self, version: int) -> PolicyVersion:
        return self._versions.get(version)

    def propose(self, caller: Caller, text: str, comment: str = "",
                source: str = "<proposal>") -> PolicyVersion:
        """Validate and store a proposal; raises ``PolicyValidationError`` with positions."""
        CompiledPolicies(text, source=source)  # validates; nothing is stored if it fails
        base = self.show()
        diff = unified_diff(base.text, text, f"version {base.version}", "proposed")
        if not diff:
            raise ConflictError(f"the proposal is identical to active version {base.version}")
        proposal = PolicyVersion(self._versions.next_number(), text, _sha256(text), diff,
                                 _sha256(diff), base.version, "proposed", comment,
                                 caller.principal_id, self._clock(), None, None)
        self._ledger.append(caller.principal_id, "policy.propose",
                            f"policy:{proposal.version}", "success",
                            {"sha256": proposal.sha256, "diff_sha256": proposal.diff_sha256,
                             "base_version": base.version, "comment": comment})
        self._versions.insert(proposal)
        return proposal

    def approve(self, caller: Caller, version: int) -> PolicyVersion:
        """Activate a proposal: needs policy.approve and an approver who did not propose."""
        proposal = self._versions.get(version)
        if proposal.status != "proposed":
            raise ConflictError(f"version {version} is {proposal.status}, not proposed")
        resource = Resource("Policy", str(version), {"proposer": proposal.proposed_by})
        self.require(caller, "policy.approve", resource, {"requester": proposal.proposed_by})
        if caller.principal_id == proposal.proposed_by:
            # Segregation of duties holds even if a policy change removed its rule.
            raise PermissionDeniedError("the proposer of a change cannot approve it",
                                        (BUILT_IN,))
        compiled = CompiledPolicies(proposal.text, version=version,
                                    source=f"policy version {version}")
        details: dict[str, object] = {"sha256": proposal.sha256,
                                      "diff_sha256": proposal.diff_sha256,
                                      "base_version": proposal.base_version,
                                      "proposed_by": proposal.proposed_by}
        self._ledger.append(caller.principal_id, "policy.activate", f"policy:{version}",
                            "success", details)
        try:
            self._versions.activate(version, proposal.base_version, caller.principal_id,
                                    self._clock())
        except Exception as exc:
            self._ledger.append(caller.principal_id, "policy.activate", f"policy:{version}",
                                "failure", {**details, "error": type(exc).__name__})
            raise
        with self._lock:
            self._active = compiled
        if self._feed is not None:
            self._feed.publish("policy")
        return self._versions.get(version)


__all__ = ["PolicyService", "unified_diff"]
