"""The client's User-Agent and Origin in the decision entries (issue 18): bounded and
printable (ADR 0002), and matched end to end by the threat room's indicators."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from tests.ai.api_support import with_api
from tests.e2e.server import sovra_up
from tests.support.ledger import ledger_events
from tests.threat.conftest import pack_spec
from tests.transfer.conftest import Workshop, key_dir, signers, workshop

from sovra.api import create_app
from sovra.api.client_context import USER_AGENT_MAX, client_details, origin_domain, user_agent
from sovra.instance import Instance
from sovra.keys import start_for_up

__all__ = ["key_dir", "signers", "workshop"]  # the transfer room's bundle fixtures


def test_user_agent_is_printable_ascii_and_bounded() -> None:
    assert user_agent("sqlmap/1.7.2#stable") == "sqlmap/1.7.2#stable"
    assert user_agent("evil\x00agent\r\nX-Injected: 1") == "evil?agent??X-Injected: 1"
    assert user_agent("caf\u00e9/\u202e1") == "caf?/?1"
    long = user_agent("A" * 10_000)
    assert long is not None and len(long) == USER_AGENT_MAX
    assert user_agent("") is None and user_agent(None) is None and user_agent("   ") is None


@pytest.mark.parametrize(("origin", "domain"), [
    ("https://App.Example:8443", "app.example"),
    ("http://staging.scanner.example.", "staging.scanner.example"),
    ("http://[::1]:8000", "::1"),
    ("null", None),                          # an opaque origin names nothing
    ("app.example", None),                   # not an origin: no scheme
    ("http://[::1", None),                   # malformed: no exception, nothing kept
    ("http://a b.example", None),            # not a host name
    ("http://\x00.example", None),
    ("http://" + "a" * 300 + ".example", None),
    ("", None),
])
def test_origin_becomes_a_plain_host_or_nothing(origin: str, domain: str | None) -> None:
    assert origin_domain(origin) == domain


def test_absent_headers_record_nothing() -> None:
    assert client_details({}) == {}


def test_hostile_user_agent_reaches_the_decision_entry_bounded(instance: Instance,
                                                               admin_key: str) -> None:
    client = TestClient(create_app(instance))
    # Bytes: the header goes out as these octets, not as text the client encodes.
    response = client.get("/ledger/entries/1", headers={
        b"Authorization": f"Bearer {admin_key}".encode(),
        b"User-Agent": b"x\xff" * 400, b"Origin": b"https://Console.Example"})
    assert response.status_code == 200
    decision = next(e for e in reversed(ledger_events(instance))
                    if e["action"] == "policy.decision")
    details = decision["details"]
    assert isinstance(details, dict)
    agent = details["user_agent"]
    assert len(agent) == USER_AGENT_MAX and agent.startswith("x?")
    assert all(" " <= c <= "~" for c in agent)
    assert details["domain"] == "console.example"


@pytest.mark.e2e
def test_listed_user_agent_and_origin_raise_alerts_through_the_real_server(
        tmp_path: Path, workshop: Workshop) -> None:
    """A client announcing a listed scanner's User-Agent (the test pack's STIX
    indicator) and coming from a listed domain is seen by a threat hunt."""
    bundle = workshop.build(pack_spec(tmp_path / "pack-src"))
    root = (workshop.repo / "roots" / "1.root.json").read_bytes()
    with sovra_up(tmp_path / "data") as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        admin = server.headers()
        http.post("/bundles/trust", headers=admin,
                  files={"root": ("1.root.json", root)}).raise_for_status()
        http.post("/bundles/import", headers=admin,
                  files={"bundle": (bundle.name, bundle.read_bytes())}).raise_for_status()
        assert http.get("/alerts", headers={
            **admin, "User-Agent": "sqlmap/1.7.2#stable",
            "Origin": "https://staging.scanner.example"}).status_code == 200
        hunt = http.post("/threat/hunt", headers=admin)
        hunt.raise_for_status()
        titles = {a["title"].split(" (")[0] for a in http.get("/alerts", headers=admin).json()}
    assert "Request with listed user agent sqlmap/1.7.2#stable" in titles
    assert "Request naming listed domain staging.scanner.example" in titles


def test_the_chat_edge_records_the_client_with_its_decision(instance: Instance,
                                                            admin_key: str) -> None:
    """The chat edge (``serve_chat``) commits the same decision entry, client included,
    in one batch with the request's own (ADR 0605): here a refused request (no such
    model), recorded with its decision all the same."""
    start_for_up(instance.keys)  # unsealed (development mode), as `sovra up` does
    async def calls(client: httpx.AsyncClient) -> httpx.Response:
        return await client.post("/v1/chat/completions", json={
            "model": "no-such-model", "messages": [{"role": "user", "content": "hi"}]},
            headers={"Authorization": f"Bearer {admin_key}",
                     "User-Agent": "sqlmap/1.7.2#stable",
                     "Origin": "https://staging.scanner.example"})

    size = instance.ledger.size
    response = with_api(instance, calls)
    assert response.status_code == 404, response.text
    decisions = [e for e in ledger_events(instance, instance.ledger.size - size)
                 if e["action"] == "policy.decision"]
    details = decisions[0]["details"]
    assert isinstance(details, dict) and details["action"] == "models.use"
    assert (details["user_agent"], details["domain"]) == (
        "sqlmap/1.7.2#stable", "staging.scanner.example")
