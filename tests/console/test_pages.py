"""The console through the ASGI app on a real instance (SQLite file): CSP, CSRF, the
session's timeout, and a role that must not see a page. End to end in a real browser:
tests/console/test_browser.py."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.config import Settings
from sovra.console.guard import CSP, SESSION_COOKIE
from sovra.instance import Instance, open_instance

_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def inst(sqlite_settings: Settings) -> Iterator[Instance]:
    opened = open_instance(sqlite_settings)
    try:
        yield opened
    finally:
        opened.close()


def _key(inst: Instance, principal: str, role: str) -> str:
    inst.identity.create_principal("test", principal, roles=[role], clearance="secret")
    return inst.identity.create_api_key("test", principal).token


def _login(client: TestClient, key: str) -> None:
    page = client.get("/console/login")
    token = _CSRF.search(page.text)
    assert token is not None
    answer = client.post("/console/login", data={"csrf": token.group(1), "api_key": key},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


@pytest.fixture
def admin(inst: Instance) -> TestClient:
    client = TestClient(create_app(inst))
    _login(client, _key(inst, "root", "admin"))
    return client


def test_every_page_carries_a_strict_csp_and_no_inline_script(admin: TestClient) -> None:
    for path in ("/console/", "/console/ledger", "/console/approvals", "/console/data",
                 "/console/login", "/console/ledger/0", "/console/policy", "/console/chat",
                 "/console/reports", "/console/threat", "/console/analytics"):
        page = admin.get(path)
        assert page.status_code == 200, (path, page.text)
        assert page.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "script-src 'self'" in CSP
        assert page.headers["x-frame-options"] == "DENY"
        assert page.headers["cache-control"] == "no-store"
        # Every script is a file of this server; no inline handler or style attribute.
        assert re.findall(r"<script(?![^>]*\bsrc=)", page.text) == []
        assert not re.search(r"\son[a-z]+=|\sstyle=", page.text), path
    asset = admin.get("/console/static/htmx.min.js")
    assert asset.status_code == 200 and "htmx" in asset.text


def test_session_cookie_is_httponly_strict_and_scoped(inst: Instance) -> None:
    client = TestClient(create_app(inst))
    page = client.get("/console/login")
    token = _CSRF.search(page.text)
    assert token is not None
    answer = client.post("/console/login", follow_redirects=False, data={
        "csrf": token.group(1), "api_key": _key(inst, "root", "admin")})
    cookie = next(v for k, v in answer.headers.multi_items()
                  if k == "set-cookie" and v.startswith(SESSION_COOKIE + "="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    # Over plain HTTP (the test client) no Secure flag; over TLS it is set (guard.set_cookie).
    assert "Secure" not in cookie
    entries = [e for e in inst.ledger.tail(5) if b'"console.login"' in e.body]
    assert entries, "the login is recorded in the ledger"


def test_a_form_without_the_session_csrf_token_is_refused(admin: TestClient,
                                                          inst: Instance) -> None:
    before = inst.ledger.size
    refused = admin.post("/console/data/erasures", data={"subject": "alice@example.org"})
    assert refused.status_code == 403
    assert "reload the page" in refused.text
    wrong = admin.post("/console/data/erasures",
                       data={"subject": "alice@example.org", "csrf": "forged"})
    assert wrong.status_code == 403
    # Nothing was erased or decided: the refusal came before any service was called.
    assert not any(b"collections.erase" in e.body
                   for e in inst.ledger.tail(inst.ledger.size - before))


def test_login_without_the_login_token_is_refused(inst: Instance) -> None:
    client = TestClient(create_app(inst))
    answer = client.post("/console/login", data={"api_key": _key(inst, "root", "admin"),
                                                 "csrf": "x"}, follow_redirects=False)
    assert answer.status_code == 403
    assert SESSION_COOKIE not in answer.cookies


def test_a_wrong_key_is_a_401_page_that_says_what_to_do(inst: Instance) -> None:
    client = TestClient(create_app(inst))
    page = client.get("/console/login")
    token = _CSRF.search(page.text)
    assert token is not None
    answer = client.post("/console/login", data={"csrf": token.group(1),
                                                 "api_key": "sk-sovra-nope"})
    assert answer.status_code == 401
    assert "sovra apikey create" in answer.text


def test_the_session_ends_after_idle_time(inst: Instance) -> None:
    from sovra.console.pages import console_app
    from sovra.console.sessions import SessionStore

    clock = Clock()
    app = create_app(inst)
    # The same app with a console on an injected clock, mounted first so it answers.
    app.router.routes.insert(0, __import__("starlette.routing").routing.Mount(
        "/console", console_app(inst, SessionStore(idle_s=60, clock=clock))))
    client = TestClient(app)
    _login(client, _key(inst, "root", "admin"))
    assert client.get("/console/", follow_redirects=False).status_code == 200
    clock.now += 59
    assert client.get("/console/", follow_redirects=False).status_code == 200
    clock.now += 61
    gone = client.get("/console/", follow_redirects=False)
    assert gone.status_code == 303
    assert gone.headers["location"].startswith("/console/login")


def test_a_revoked_key_ends_the_session(inst: Instance) -> None:
    client = TestClient(create_app(inst))
    key = _key(inst, "root", "admin")
    _login(client, key)
    prefix = next(k.key_id for k in inst.identity.list_api_keys("root"))
    inst.identity.revoke_api_key("test", prefix)
    assert client.get("/console/", follow_redirects=False).status_code == 303


def test_a_user_does_not_see_the_ledger_and_the_refusal_is_recorded(inst: Instance) -> None:
    client = TestClient(create_app(inst))
    _login(client, _key(inst, "pat", "analyst"))
    home = client.get("/console/")
    assert home.status_code == 200
    assert 'href="/console/ledger"' not in home.text  # not offered
    before = inst.ledger.size
    refused = client.get("/console/ledger")
    assert refused.status_code == 403
    assert "Ask an administrator" in refused.text
    assert "pat may not ledger.read" in refused.text
    denied = [e for e in inst.ledger.tail(inst.ledger.size - before)
              if b'"policy.decision"' in e.body and b'"denied"' in e.body]
    assert denied, "the page's refusal is recorded as the API's would be"
    # The API refuses the same person the same thing.
    key_client = TestClient(create_app(inst))
    assert key_client.get("/ledger/checkpoint").status_code == 401


def test_an_unknown_entry_is_a_404_page(admin: TestClient) -> None:
    missing = admin.get("/console/ledger/999999")
    assert missing.status_code == 404
    assert "does not exist" in missing.text
    bad = admin.get("/console/ledger/x1")
    assert bad.status_code == 400


def test_hostile_form_values_are_refused(admin: TestClient) -> None:
    page = admin.get("/console/data")
    token = _CSRF.search(page.text)
    assert token is not None
    refused = admin.post("/console/data/erasures", data={"csrf": token.group(1),
                                                         "subject": "a\x00b"})
    assert refused.status_code == 400
    assert "NUL" in refused.text


def test_no_page_answers_without_a_session(inst: Instance) -> None:
    """Every console route but the login page and its assets wants a live session: a
    GET is sent to the login page, a POST is refused (401) before reading the form."""
    from sovra.console.pages import console_app

    client = TestClient(create_app(inst))
    routes = [r for r in console_app(inst).routes if hasattr(r, "methods")]
    checked = 0
    for route in routes:
        path = "/console" + re.sub(r"\{[^}]+\}", "1", route.path)  # type: ignore[attr-defined]
        if path in ("/console/login", "/console/oidc/login", "/console/oidc/callback"):
            continue  # the ways to log in (the OIDC pair: tests/console/test_oidc_login.py)
        for method in sorted(route.methods - {"HEAD"}):  # type: ignore[attr-defined]
            answer = client.request(method, path, follow_redirects=False)
            checked += 1
            if method == "GET":
                assert answer.status_code == 303, path
                assert answer.headers["location"].startswith("/console/login")
            else:
                assert answer.status_code == 401, (method, path)
    assert checked >= 8


def test_policy_page_shows_a_diff_and_runs_test_cases(admin: TestClient,
                                                      inst: Instance) -> None:
    page = admin.get("/console/policy")
    assert page.status_code == 200 and "Versions" in page.text
    token = _CSRF.search(page.text)
    assert token is not None
    cases = """cases:
  - name: an auditor reads the ledger
    principal: {id: aude, roles: [auditor], clearance: secret}
    action: ledger.read
    resource: {type: Ledger, id: "*"}
    expected: allow
  - name: an analyst reads the ledger
    principal: {id: pat, roles: [analyst], clearance: secret}
    action: ledger.read
    resource: {type: Ledger, id: "*"}
    expected: allow
"""
    ran = admin.post("/console/policy/test", data={"csrf": token.group(1), "version": "1",
                                                   "cases": cases})
    assert ran.status_code == 200
    assert "1 of 2 cases pass against version 1" in ran.text  # the analyst is denied
    broken = admin.post("/console/policy/test", data={"csrf": token.group(1),
                                                      "version": "1", "cases": "[: nope"})
    assert broken.status_code == 400 and "not valid YAML" in broken.text


def test_a_second_person_approves_a_policy_proposal_in_the_inbox(inst: Instance) -> None:
    from sovra.identity import Caller

    proposer = Caller("root", "user", frozenset({"admin"}), "secret")
    text = inst.policy.show().text + "\n// console test: a comment-only change\n"
    proposal = inst.policy.propose(proposer, text, "comment only")
    client = TestClient(create_app(inst))
    _login(client, _key(inst, "ann", "approver"))
    inbox = client.get("/console/approvals")
    assert f"Version {proposal.version} by root" in inbox.text
    diff = client.get(f"/console/policy?a=1&b={proposal.version}")
    assert "+// console test: a comment-only change" in diff.text
    token = _CSRF.search(inbox.text)
    assert token is not None
    done = client.post(f"/console/approvals/policy/{proposal.version}/approve",
                       data={"csrf": token.group(1)}, follow_redirects=False)
    assert done.status_code == 303, done.text
    assert inst.policy.show().version == proposal.version
    assert any(b'"policy.approve"' in e.body and b'"ann"' in e.body
               for e in inst.ledger.tail(20))
