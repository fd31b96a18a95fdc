"""Console test helpers: a principal's key, a logged-in TestClient, a page's CSRF token."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.instance import Instance

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def key_of(inst: Instance, principal: str, *roles: str, clearance: str = "secret") -> str:
    inst.identity.create_principal("test", principal, roles=list(roles), clearance=clearance)
    return inst.identity.create_api_key("test", principal).token


def log_in(client: TestClient, key: str) -> None:
    page = client.get("/console/login")
    token = CSRF.search(page.text)
    assert token is not None
    answer = client.post("/console/login", data={"csrf": token.group(1), "api_key": key},
                         follow_redirects=False)
    assert answer.status_code == 303, answer.text


def console_for(inst: Instance, principal: str, *roles: str, clearance: str = "secret"
                ) -> TestClient:
    """A TestClient logged in to the console as a new principal with ``roles``."""
    client = TestClient(create_app(inst))
    log_in(client, key_of(inst, principal, *roles, clearance=clearance))
    return client


def csrf_of(html: str) -> str:
    token = CSRF.search(html)
    assert token is not None, "the page carries the session's CSRF token"
    return token.group(1)


def no_inline_code(html: str) -> None:
    """No inline script, event handler or style attribute (the CSP would block them)."""
    assert re.findall(r"<script(?![^>]*\bsrc=)", html) == []
    assert not re.search(r"\son[a-z]+=|\sstyle=|<style", html)


__all__ = ["CSRF", "console_for", "csrf_of", "key_of", "log_in", "no_inline_code"]
