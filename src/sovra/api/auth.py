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

from sovra.ai import EntryFields
from sovra.api.client_context import client_details
from sovra.api.deps import body_problems, reads_body, refusal
from sovra.errors import ConfigError, PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import ACTIONS, Decision, Resource

# Declares the scheme in the OpenAPI document (the docs' "Authorize" button); the
# header itself is read below so that a missing credential is our 401, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="API key (sk-sovra-...) or OIDC token")


_MEMO_MAX = 4096
_MemoKey = tuple[str, str, Caller, str, str]  # action, resource type, caller, id, client


class DecisionMemo:
    """Decisions already made by the active compiled policy set, so a request repeating
    an earlier one's question skips Cedar. One per app (``create_app`` puts it in
    ``app.state.decisions``), not per route: the routes' ``Authorized`` instances are
    module-level and hold no state (issue 14).

    A decision is a pure function of the (immutable) compiled policy set, the caller,
    the action, the resource and the context (here only the client address); activating
    a new policy version swaps the compiled set and so starts a fresh memo.
    """

    __slots__ = ("_active", "_found")

    def __init__(self) -> None:
        self._active: object = None
        self._found: dict[_MemoKey, Decision] = {}

    def __len__(self) -> int:
        return len(self._found)

    def get(self, active: object, key: _MemoKey) -> Decision | None:
        return self._found.get(key) if self._active is active else None

    def put(self, active: object, key: _MemoKey, decision: Decision) -> None:
        if self._active is not active or len(self._found) >= _MEMO_MAX:
            self._active, self._found = active, {}
        self._found[key] = decision


class Authorized:
    """A FastAPI dependency deciding one action on one resource type; yields the caller.

    After an allow it also refuses a hostile request body (NUL, lone surrogates,
    integers beyond 64 bits: ``sovra.api.deps.body_problems``), with the decision
    recorded first, as FastAPI answers any invalid body after its dependencies ran
    (issue 13). Path and query values were checked before it, by ``RefuseHostileInput``.
    """

    # Tells RefuseHostileInput that routes depending on this need no body check there.
    checks_body = True

    def __init__(self, action: str, resource_type: str, resource_id_param: str | None
                 ) -> None:
        if action not in ACTIONS or resource_type not in ACTIONS[action]:
            raise ConfigError(f"route declares unknown action/resource {action}/{resource_type}")
        self.action = action
        self.resource_type = resource_type
        self.resource_id_param = resource_id_param

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

    def _decide(self, instance: Instance, memo: DecisionMemo | None, caller: Caller,
                resource: Resource, client: str) -> tuple[Decision, int]:
        """The active policy set's decision (memoised in ``memo``), and its version. The
        decision is still recorded for every request."""
        policy = instance.policy
        active = policy.active
        key = (self.action, self.resource_type, caller, resource.id, client)
        found = memo.get(active, key) if memo is not None else None
        if found is not None:
            return found, active.version
        decision = policy.decide(caller, self.action, resource, {"client_ip": client})
        # Not reloaded meanwhile (the decision is active's), and not under a grant.
        if memo is not None and policy.active is active and decision.grant_id is None:
            memo.put(active, key, decision)
        return decision, active.version

    async def decide(self, request: Request) -> tuple[Caller, EntryFields]:
        """Authenticate and decide, without recording an allow: the caller and the
        decision's ledger fields. A deny is recorded here and raised (403).

        For an edge that commits the allow in one batch with its own first entry (ADR
        0605: the chat edge hands it to ``Gateway.chat`` as an explicit argument); it
        must record it before it does anything but parse, and before any answer.
        """
        # Async: the decision is recorded with the ledger's async group commit, so the
        # event loop never blocks on the fsync and no thread-pool hop is paid per
        # request (docs/PERFORMANCE.md, "AI gateway").
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
            memo = getattr(request.app.state, "decisions", None)
            decision, version = self._decide(instance, memo, caller, resource, client)
        # The same entry PolicyService.require writes (tests/api/test_auth_async.py), plus
        # the client's own description, which a service call without a request lacks.
        details = decision.ledger_details()
        details["policy_version"] = version
        if caller.via:
            details["credential"] = caller.via
        # Bounded (sovra.api.client_context): threat indicators match these.
        details.update(client_details(request.headers))
        fields: EntryFields = (caller.principal_id, "policy.decision", resource.uid,
                               decision.outcome, details)
        if not decision.allowed:
            await instance.ledger.append_async(*fields)
            raise PermissionDeniedError(
                f"{caller.principal_id} may not {self.action} on {resource.uid}",
                decision.reasons)
        return caller, fields

    async def __call__(self, request: Request,
                       _scheme: HTTPAuthorizationCredentials | None = Depends(_bearer)
                       ) -> Caller:
        caller, fields = await self.decide(request)
        instance: Instance = request.app.state.instance
        if reads_body(request):
            problems = await body_problems(request)
            if problems:
                await instance.ledger.append_async(*fields)
                raise refusal(problems)
        await instance.ledger.append_async(*fields)
        return caller

    def __repr__(self) -> str:
        return f"authorized({self.action!r}, {self.resource_type!r})"


def authorized(action: str, resource_type: str, *,
               resource_id_param: str | None = None) -> Authorized:
    """The dependency for a route doing ``action`` on a ``resource_type``.

    ``resource_id_param`` names the path (or query) parameter holding the resource id,
    so the decision and the ledger name the exact resource (``Collection::"c-1"``).
    An edge that records the allow with its own first entry calls ``decide`` instead
    (the chat edge, ADR 0609); a deny is always recorded before the 403.
    """
    return Authorized(action, resource_type, resource_id_param)


__all__ = ["Authorized", "Caller", "DecisionMemo", "authorized"]
