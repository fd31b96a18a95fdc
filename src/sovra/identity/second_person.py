"""The API's identity changes, with the second-person rule (issue 13).

An administrator alone must not be able to act as an approver: neither by minting an
API key for an existing approver, nor by creating (or grouping) a principal with the
approver role and minting its key. So, for a caller over the API:

* a principal mints API keys only for itself, at once; a key for anyone else is a
  *credential hand-over* that waits for a second person;
* a principal created with the ``admin`` or ``approver`` role, a member added to a
  group holding one, or such a principal or group enabled again, waits for a second
  person too;
* the second person holds the ``approver`` role (``principals.approve``, decided by
  policy with the requester in the context) and is never the requester (checked here
  and in ``sovra.policy.segregation``, whatever the active policy pack says).

The approver of a hand-over receives the key, once, and hands it to its holder; the
request, the approval and the key's creation are in the ledger, naming both people.
The in-process ``IdentityService`` methods (``create_principal("system", ...)``,
``create_api_key``) stay direct: they are the machine owner's path (``sovra up``
printing the first admin key, the CLI run on the instance's own machine).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Protocol

from sovra.errors import (
    ConflictError,
    InvalidInputError,
    LedgerUnavailableError,
    PermissionDeniedError,
)
from sovra.identity.caller import Caller
from sovra.identity.changes import (
    PRIVILEGED_ROLES,
    ChangeStore,
    PendingChange,
    new_change_id,
)
from sovra.identity.principals import (
    CreatedKey,
    Principal,
    check_clearance,
    check_kind,
    check_principal_id,
    check_roles,
    check_scope,
)
from sovra.identity.sink import LedgerSink
from sovra.policy import Resource

if TYPE_CHECKING:
    from sovra.identity.service import IdentityService

APPROVER_ROLE = "approver"
_BUILT_IN = "segregation-of-duties (built in)"


class Authorizer(Protocol):
    """What approving needs from ``sovra.policy``: decide, record, raise on deny."""

    def require(self, caller: Caller, action: str, resource: Resource,
                context: Mapping[str, object] | None = None) -> object: ...


@dataclass(frozen=True)
class Approved:
    """An approved change and what it made: a key (shown once) or a principal."""

    change: PendingChange
    key: CreatedKey | None = None
    principal: Principal | None = None


def _narrowed_scope(caller: Caller, scope: Iterable[str] | None) -> frozenset[str] | None:
    """A scoped credential may only mint keys at most as wide as itself."""
    wanted = check_scope(scope)
    if caller.scope is None:
        return wanted
    if wanted is None:
        return caller.scope
    wider = wanted - caller.scope
    if wider:
        raise PermissionDeniedError(
            f"credential {caller.via or '(unnamed)'} is scoped; a key it mints cannot add "
            f"{sorted(wider)}", ("credential scope",))
    return wanted


class SecondPerson:
    """Identity changes requested over the API (``instance.identity.changes``)."""

    def __init__(self, identity: IdentityService, store: ChangeStore, ledger: LedgerSink,
                 *, clock: Callable[[], float] = time.time) -> None:
        self._identity = identity
        self._store = store
        self._ledger = ledger
        self._clock = clock

    # -- requests -------------------------------------------------------------------

    def _request(self, caller: Caller, kind: str, target: str,
                 request: dict[str, object]) -> PendingChange:
        change = PendingChange(new_change_id(), kind, target, request, "pending",
                               caller.principal_id, self._clock())
        # Record first: a request nobody can find in the ledger must not exist.
        self._ledger.append(caller.principal_id, "identity.change.request",
                            f"change:{change.change_id}", "success",
                            {"kind": kind, "target": target, **request})
        self._store.insert(change)
        return change

    def api_key(self, caller: Caller, principal_id: str, *, label: str = "",
                expires_at: float | None = None,
                scope: Iterable[str] | None = None) -> CreatedKey | PendingChange:
        """A key for the caller itself now; for anyone else, a pending hand-over."""
        narrowed = _narrowed_scope(caller, scope)
        if principal_id == caller.principal_id:
            return self._identity.create_api_key(caller.principal_id, principal_id,
                                                 label=label, expires_at=expires_at,
                                                 scope=narrowed)
        self._identity.check_key_request(principal_id, expires_at)
        return self._request(caller, "apikey", principal_id, {
            "label": label, "expires_at": expires_at,
            "scope": None if narrowed is None else sorted(narrowed)})

    def principal(self, caller: Caller, principal_id: str, *, kind: str = "user",
                  roles: Iterable[str] = (), clearance: str = "public", org_unit: str = "",
                  jurisdiction: str = "", display_name: str | None = None
                  ) -> Principal | PendingChange:
        """Create a principal now, or wait for an approver if it gets a privileged role."""
        given = check_roles(roles)
        if not given & PRIVILEGED_ROLES:
            return self._identity.create_principal(
                caller.principal_id, principal_id, kind=kind, roles=given,
                clearance=clearance, org_unit=org_unit, jurisdiction=jurisdiction,
                display_name=display_name)
        check_principal_id(principal_id)
        self._identity.require_absent(principal_id)
        return self._request(caller, "principal", principal_id, {
            "kind": check_kind(kind), "roles": sorted(given),
            "clearance": check_clearance(clearance), "org_unit": org_unit,
            "jurisdiction": jurisdiction, "display_name": display_name})

    def member(self, caller: Caller, group_id: str, member_id: str) -> PendingChange | None:
        """Add a member now (None), or wait for an approver if the group is privileged."""
        group = self._identity.check_member_request(group_id, member_id)
        if not group.roles & PRIVILEGED_ROLES:
            self._identity.add_member(caller.principal_id, group_id, member_id)
            return None
        return self._request(caller, "member", group_id, {"member": member_id})

    def enable(self, caller: Caller, principal_id: str) -> Principal | PendingChange:
        """Enable now, or wait for an approver if it holds a privileged role."""
        target = self._identity.get_principal(principal_id)
        if not target.disabled or not target.roles & PRIVILEGED_ROLES:
            return self._identity.set_disabled(caller.principal_id, principal_id,
                                               disabled=False)
        return self._request(caller, "enable", principal_id,
                             {"roles": sorted(target.roles)})

    # -- decisions ------------------------------------------------------------------

    def list_changes(self, status: str | None = None) -> list[PendingChange]:
        return self._store.all(status)

    def get(self, change_id: str) -> PendingChange:
        return self._store.get(change_id)

    def _second_person(self, caller: Caller, change: PendingChange, action: str,
                       policy: Authorizer) -> None:
        if change.status != "pending":
            raise ConflictError(f"identity change {change.change_id} is {change.status}, "
                                "not pending")
        policy.require(caller, "principals.approve", Resource("Principal", change.target),
                       {"requester": change.requested_by})
        if caller.principal_id == change.requested_by or APPROVER_ROLE not in caller.roles:
            # Holds even if the active policy pack lost its segregation rule.
            self._ledger.append(caller.principal_id, action, f"change:{change.change_id}",
                                "denied", {"requested_by": change.requested_by})
            raise PermissionDeniedError(
                "an identity change needs an approver who is not its requester",
                (_BUILT_IN,))

    def approve(self, caller: Caller, change_id: str, policy: Authorizer) -> Approved:
        """Approve and apply a pending change; a hand-over's key goes to the approver."""
        change = self._store.get(change_id)
        self._second_person(caller, change, "identity.change.approve", policy)
        now = self._clock()
        details: dict[str, object] = {"kind": change.kind, "target": change.target,
                                      "requested_by": change.requested_by}
        self._ledger.append(caller.principal_id, "identity.change.approve",
                            f"change:{change_id}", "success", details)
        self._store.decide(change_id, "approved", caller.principal_id, now)
        decided = replace(change, status="approved", decided_by=caller.principal_id,
                          decided_at=now)
        try:
            return self._apply(caller, decided)
        except Exception as exc:  # an approved change that could not be applied
            with contextlib.suppress(LedgerUnavailableError):
                self._ledger.append(caller.principal_id, "identity.change.approve",
                                    f"change:{change_id}", "failure",
                                    {**details, "error": type(exc).__name__})
            self._store.decide(change_id, "failed", caller.principal_id, now,
                               from_status="approved")
            raise

    def _apply(self, caller: Caller, change: PendingChange) -> Approved:
        # The actor of the resulting entry is the approver, who made it happen; the
        # change id links it to the request and its requester.
        actor = caller.principal_id
        r = change.request
        if change.kind == "apikey":
            scope = r.get("scope")
            key = self._identity.create_api_key(
                actor, change.target, label=str(r.get("label") or ""),
                expires_at=None if r.get("expires_at") is None else float(r["expires_at"]),
                scope=None if scope is None else [str(s) for s in scope])
            return Approved(change, key=key)
        if change.kind == "principal":
            made = self._identity.create_principal(
                actor, change.target, kind=str(r["kind"]), roles=[str(x) for x in r["roles"]],
                clearance=str(r["clearance"]), org_unit=str(r["org_unit"]),
                jurisdiction=str(r["jurisdiction"]),
                display_name=None if r.get("display_name") is None else str(r["display_name"]))
            return Approved(change, principal=made)
        if change.kind == "member":
            self._identity.add_member(actor, change.target, str(r["member"]))
            return Approved(change)
        if change.kind == "enable":
            enabled = self._identity.set_disabled(actor, change.target, disabled=False)
            return Approved(change, principal=enabled)
        raise InvalidInputError(f"unknown identity change kind {change.kind!r}")

    def reject(self, caller: Caller, change_id: str, policy: Authorizer,
               reason: str = "") -> PendingChange:
        """An approver says no: nothing is applied; the request stays on the record."""
        change = self._store.get(change_id)
        self._second_person(caller, change, "identity.change.reject", policy)
        now = self._clock()
        self._ledger.append(caller.principal_id, "identity.change.reject",
                            f"change:{change_id}", "success",
                            {"kind": change.kind, "target": change.target,
                             "requested_by": change.requested_by, "reason": reason})
        self._store.decide(change_id, "rejected", caller.principal_id, now)
        return self._store.get(change_id)


__all__ = ["Approved", "Authorizer", "SecondPerson"]
