"""One choke point (issue 4): every route of the app requires authentication and an
authorization decision, except liveness and unsealing, which are exempt by name.

Two checks: statically, every APIRoute's dependency tree contains the ``authorized``
dependency; dynamically, every route answers 401 without a credential and 403 with a
valid key of a role that must not pass (an operator without an approved access grant,
whom the default policy pack forbids everything).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.api.auth import Authorized
from sovra.instance import Instance

# Exempt by name. Liveness reveals nothing; custodians unseal before any principal can
# be verified (the keys are sealed), and seal-status tells them whether to go on.
EXEMPT_API_ROUTES = {
    ("GET", "/healthz"),
    ("GET", "/sys/seal-status"),
    ("POST", "/sys/unseal"),
    ("POST", "/sys/unseal/reset"),
    # A load balancer's and an orchestrator's probes, and the Prometheus scrape: seal
    # state, database reachability and counts by route template, never request text or
    # a principal (sovra.api.routers.health, metrics; docs/cluster.md says to bind the
    # scrape to the monitoring network).
    ("GET", "/livez"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
}
# The documentation pages, their assets and the home page (static API description and
# links, no data, no actions; sovra.api.routers.home).
EXEMPT_DOC_PATHS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc", "/",
                    "/static/docs"}
# The console (sovra.console): a mounted app whose every page authenticates its session's
# key and asks policy the API's question itself (tests/console/test_pages.py checks it).
EXEMPT_DOC_PATHS |= {"/console"}

# The one door an operator without a grant has (40-operators.cedar): the lockbox, to ask
# for access, read requests and give up its own; the lockbox service decides the rest.
OPERATOR_DOOR = re.compile(r"^/lockbox/(requests|status)")


@dataclass(frozen=True)
class Endpoint:
    path: str
    methods: frozenset[str]
    dependant: Dependant | None  # None: not an APIRoute (a Mount, a WebSocket, a Route)


def _flatten(routes: Iterable[object]) -> Iterator[Endpoint]:
    """Every endpoint of the app, looking through included routers.

    FastAPI >= 0.16x keeps included routers as lazy ``_IncludedRouter`` nodes whose
    effective routes (full path, router-level dependencies merged into ``dependant``)
    come from ``effective_route_contexts()``; older versions flatten into APIRoutes.
    """
    for route in routes:
        if isinstance(route, APIRoute):
            yield Endpoint(route.path, frozenset(route.methods), route.dependant)
        elif hasattr(route, "effective_route_contexts"):
            for ctx in route.effective_route_contexts():
                if isinstance(ctx.original_route, APIRoute):
                    yield Endpoint(ctx.path, frozenset(ctx.methods or ()), ctx.dependant)
                else:
                    yield Endpoint(ctx.path or str(getattr(ctx.original_route, "path", "?")),
                                   frozenset(), None)
        else:
            yield Endpoint(str(getattr(route, "path", route)), frozenset(), None)


def _authorized_in(dependant: Dependant) -> list[Authorized]:
    found = [dependant.call] if isinstance(dependant.call, Authorized) else []
    for sub in dependant.dependencies:
        found.extend(_authorized_in(sub))
    return found


def _concrete(path: str) -> str:
    # Fill path parameters with harmless values (an int parses as str too).
    return re.sub(r"\{[^}]+\}", "1", path)


def _routes(app: FastAPI) -> Iterator[tuple[str, str, Dependant]]:
    for endpoint in _flatten(app.routes):
        if endpoint.dependant is None:
            continue
        for method in sorted(endpoint.methods):
            if (method, endpoint.path) not in EXEMPT_API_ROUTES:
                yield method, endpoint.path, endpoint.dependant


@pytest.fixture
def app(sqlite_instance: Instance) -> FastAPI:
    return create_app(sqlite_instance)


@pytest.fixture
def sqlite_instance(sqlite_settings: object) -> Iterator[Instance]:
    from sovra.instance import open_instance

    opened = open_instance(sqlite_settings)  # type: ignore[arg-type]
    try:
        yield opened
    finally:
        opened.close()


def test_every_route_is_an_api_route_or_a_documentation_page(app: FastAPI) -> None:
    others = [e.path for e in _flatten(app.routes) if e.dependant is None]
    assert set(others) <= EXEMPT_DOC_PATHS


def test_every_api_route_depends_on_authorized(app: FastAPI) -> None:
    missing = [f"{m} {p}" for m, p, dependant in _routes(app)
               if not _authorized_in(dependant)]
    assert missing == []
    assert len(list(_routes(app))) >= 10  # the check is not vacuous


def test_exempt_routes_exist_and_only_they_skip_authorized(app: FastAPI) -> None:
    endpoints = [e for e in _flatten(app.routes) if e.dependant is not None]
    present = {(m, e.path) for e in endpoints for m in e.methods}
    assert ("GET", "/healthz") in present
    unguarded = {(m, e.path) for e in endpoints for m in e.methods
                 if e.dependant is not None and not _authorized_in(e.dependant)}
    assert unguarded <= EXEMPT_API_ROUTES


def test_no_route_answers_without_a_credential(app: FastAPI) -> None:
    client = TestClient(app)
    wrong = {}
    for method, path, _dependant in _routes(app):
        response = client.request(method, _concrete(path))
        if response.status_code != 401:
            wrong[f"{method} {path}"] = response.status_code
    assert wrong == {}


def test_no_route_answers_a_role_that_must_not_pass(app: FastAPI,
                                                    sqlite_instance: Instance) -> None:
    identity = sqlite_instance.identity
    identity.create_principal("test", "ops", roles=["operator"], clearance="secret")
    token = identity.create_api_key("test", "ops").token
    client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
    wrong: dict[str, object] = {}
    refused = [(m, p, d) for m, p, d in _routes(app) if not OPERATOR_DOOR.match(p)]
    ledger = sqlite_instance.ledger
    for method, path, dependant in refused:
        before = ledger.size
        response = client.request(method, _concrete(path))
        if response.status_code != 403:
            wrong[f"{method} {path}"] = response.status_code
            continue
        # Each refusal was decided by policy and recorded before the 403 left: the
        # entries this request appended hold a deny of the route's own action for ops.
        recorded = [json.loads(row.body) for row in ledger.tail(ledger.size - before)]
        denials = [e for e in recorded if e["action"] == "policy.decision"
                   and e["actor"] == "ops" and e["outcome"] == "denied"]
        actions = {a.action for a in _authorized_in(dependant)}
        if len(denials) != 1 or denials[0]["details"]["decision"] != "deny" \
                or denials[0]["details"]["action"] not in actions:
            wrong[f"{method} {path}"] = recorded
    assert wrong == {}
