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

from sovra.errors import ConfigError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import ACTIONS, Resource

# Declares the scheme in the OpenAPI document (the docs' "Authorize" button); the
# header itself is read below so that a missing credential is our 401, not FastAPI's.
_bearer = HTTPBearer(auto_error=False, description="API key (sk-sovra-...) or OIDC token")


class Authorized:
    """A FastAPI dependency deciding one action on one resource type; yields the caller."""

    def __init__(self, action: str, resource_type: str, resource_id_param: str | None) -> None:
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

    def __call__(self, request: Request,
                 _scheme: HTTPAuthorizationCredentials | None = Depends(_bearer)) -> Caller:
        # A plain (sync) dependency: FastAPI runs it in its thread pool, where the
        # blocking, durable ledger append does not stall the event loop.
        instance: Instance = request.app.state.instance
        client = request.client.host if request.client else "unknown"
        caller = instance.identity.authenticate(request.headers.get("authorization"), client)
        resource = Resource(self.resource_type, self._resource_id(request))
        instance.policy.require(caller, self.action, resource,
                                {"client_ip": client})
        return caller

    def __repr__(self) -> str:
        return f"authorized({self.action!r}, {self.resource_type!r})"


def authorized(action: str, resource_type: str, *,
               resource_id_param: str | None = None) -> Authorized:
    """The dependency for a route doing ``action`` on a ``resource_type``.

    ``resource_id_param`` names the path (or query) parameter holding the resource id,
    so the decision and the ledger name the exact resource (``Collection::"c-1"``).
    """
    return Authorized(action, resource_type, resource_id_param)


__all__ = ["Authorized", "Caller", "authorized"]
