"""The one authorization dependency of the API (issue 4: one choke point).

Every route except liveness and unsealing declares
``caller: Annotated[Caller, Depends(authorized("ledger.read", "Ledger"))]``. The
dependency authenticates the bearer credential (API key or OIDC token), asks the
active Cedar policy set, appends the decision (allow and deny) to the ledger, and only
then lets the route run. 401 for a missing or bad credential, 429 after too many
failures from one address, 403 when policy denies, 503 when the ledger cannot record
the decision (no record, no access). tests/api/test_route_protection.py checks that
every route of the app goes through it.
"""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from sovra.ai.ports import EntryFields
from sovra.api.deps import body_problems, reads_body, refusal
from sovra.errors import ConfigError, PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import ACTIONS, Decision, Resource

# Declares the scheme in the OpenAPI document (the docs' "Authorize" button); the
# header itself is read below so that a missing credential is our 401, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="API key (sk-sovra-...) or OIDC token")


_MEMO_MAX = 4096


class Authorized:
    """A FastAPI dependency deciding one action on one resource type; yields the caller.

    After an allow it also refuses a hostile request body (NUL, lone surrogates,
    integers beyond 64 bits: ``sovra.api.deps.body_problems``), with the decision
    recorded first, as FastAPI answers any invalid body after its dependencies ran
    (issue 13). Path and query values were checked before it, by ``RefuseHostileInput``.
    """

    # Tells RefuseHostileInput that routes depending on this need no body check there.
    checks_body = True

    def __init__(self, action: str, resource_type: str, resource_id_param: str | None,
                 *, defer_allowed_record: bool = False) -> None:
        if action not in ACTIONS or resource_type not in ACTIONS[action]:
            raise ConfigError(f"route declares unknown action/resource {action}/{resource_type}")
        self.action = action
        self.resource_type = resource_type
        self.resource_id_param = resource_id_param
        self.defer_allowed_record = defer_allowed_record
        self._decisions: tuple[object, dict[tuple[Caller, str, str], Decision]] = (None, {})

    def _resource_id(self, request: Request) -> str:
        if self.resource_id_param is None:
            return "*"
        found = (request.path_params.get(self.resource_id_param)
                 or request.query_params.get(self.resource_id_param))
        return str(found) if found else "*"

    async def _authenticate(self, instance: Instance, authorization: str | None,
                            client: str) -> Caller:
        """Verify the credential: on the loop when identity's cache answers, else in a
        thread.

        A key verified recently (identity's short cache, dropped at once on revocation)
        costs a hash and a dict lookup, cheaper than a thread hop. Anything else (a cache
        miss, a revoked or wrong key, an OIDC token) goes to the thread pool, because it
        does blocking work (a database read, a durable ledger append of the failure)
        that must not stall the event loop.
        """
        caller = instance.identity.authenticate_cached(authorization, client)
        if caller is not None:
            return caller
        return await run_in_threadpool(instance.identity.authenticate, authorization, client)

    def _decide(self, instance: Instance, caller: Caller, resource: Resource, client: str
                ) -> tuple[Decision, int]:
        """The active policy set's decision, and that set's version.

        A decision is a pure function of the (immutable) compiled policy set, the caller,
        the action, the resource and the context (here only the client address), so it
        is memoised per compiled set: a request repeating the previous one's question
        skips Cedar. The decision is still recorded for every request; activating a new
        policy version swaps the compiled set and so starts a fresh memo.
        """
        policy = instance.policy
        active = policy.active
        key = (caller, resource.id, client)
        memo = self._decisions
        if memo[0] is active:
            found = memo[1].get(key)
            if found is not None:
                return found, active.version
        decision = policy.decide(caller, self.action, resource, {"client_ip": client})
        # Not reloaded meanwhile (the decision is active's), and not under a grant.
        if policy.active is active and decision.grant_id is None:
            if memo[0] is not active or len(memo[1]) >= _MEMO_MAX:
                memo = self._decisions = (active, {})
            memo[1][key] = decision
        return decision, active.version

    async def __call__(self, request: Request,
                       _scheme: HTTPAuthorizationCredentials | None = Depends(_bearer)
                       ) -> Caller:
        # An async dependency: the decision is recorded with the ledger's async group
        # commit, so the event loop never blocks on the fsync and no thread-pool hop is
        # paid per request (docs/PERFORMANCE.md, "AI gateway").
        instance: Instance = request.app.state.instance
        client = request.client.host if request.client else "unknown"
        caller = await self._authenticate(instance, request.headers.get("authorization"),
                                          client)
        resource = Resource(self.resource_type, self._resource_id(request))
        if instance.policy.grant_holder(caller.principal_id):
            # A lockbox grant may decide: it is confirmed against the database (a
            # revocation anywhere counts at once), so in a thread, and never memoised.
            decision = await run_in_threadpool(instance.policy.decide, caller, self.action,
                                               resource, {"client_ip": client})
            version = instance.policy.active.version
        else:
            decision, version = self._decide(instance, caller, resource, client)
        # The same entry PolicyService.require writes (tests/api/test_auth_async.py).
        details = decision.ledger_details()
        details["policy_version"] = version
        if caller.via:
            details["credential"] = caller.via
        fields: EntryFields = (caller.principal_id, "policy.decision", resource.uid,
                               decision.outcome, details)
        if decision.allowed and reads_body(request):
            problems = await body_problems(request)
            if problems:
                await instance.ledger.append_async(*fields)
                raise refusal(problems)
        if decision.allowed and self.defer_allowed_record:
            # The route commits it in one batch with its own first entry, and before
            # anything else happens or any answer leaves (``record_deferred``).
            request.state.sovra_decision = DeferredDecision(fields)
            return caller
        await instance.ledger.append_async(*fields)
        if not decision.allowed:
            raise PermissionDeniedError(
                f"{caller.principal_id} may not {self.action} on {resource.uid}",
                decision.reasons)
        return caller

    def __repr__(self) -> str:
        return f"authorized({self.action!r}, {self.resource_type!r})"


def authorized(action: str, resource_type: str, *,
               resource_id_param: str | None = None,
               defer_allowed_record: bool = False) -> Authorized:
    """The dependency for a route doing ``action`` on a ``resource_type``.

    ``resource_id_param`` names the path (or query) parameter holding the resource id,
    so the decision and the ledger name the exact resource (``Collection::"c-1"``).

    ``defer_allowed_record`` (ADR 0605) is for a route that writes its own ledger entry
    before it acts: an allow is not appended here but left in ``request.state`` for the
    route to commit in one batch with that entry, saving a durable commit in sequence.
    The route must call ``record_deferred`` before it answers or fails, and must do
    nothing but parse and check before the decision is durable. A deny is always
    recorded here, before the 403.
    """
    return Authorized(action, resource_type, resource_id_param,
                      defer_allowed_record=defer_allowed_record)


class DeferredDecision:
    """An allow decided by the dependency and not yet recorded; ``take`` gives it once."""

    __slots__ = ("_fields",)

    def __init__(self, fields: EntryFields) -> None:
        self._fields: EntryFields | None = fields

    def take(self) -> EntryFields | None:
        fields, self._fields = self._fields, None
        return fields


def deferred_decision(request: Request) -> DeferredDecision | None:
    """The request's allow decision the dependency left for the route to record."""
    found = getattr(request.state, "sovra_decision", None)
    return found if isinstance(found, DeferredDecision) else None


async def record_deferred(request: Request) -> None:
    """Record the request's deferred decision if nothing recorded it yet (raises
    ``LedgerUnavailableError`` if it cannot: the answer becomes a 503)."""
    pending = deferred_decision(request)
    fields = pending.take() if pending is not None else None
    if fields is not None:
        instance: Instance = request.app.state.instance
        await instance.ledger.append_async(*fields)


__all__ = ["Authorized", "Caller", "DeferredDecision", "authorized", "deferred_decision",
           "record_deferred"]
