"""Failed-key rate limiting cannot lock out valid keys (issue 15).

One misconfigured client on a shared host (here: every TestClient request comes from
the same address) used to lock every valid key of that address out for 60 s. Failures
are now limited per presented credential and per address, and a valid key is always
checked and accepted.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.errors import RateLimitedError
from sovra.identity import FailureLimiter
from sovra.identity.ratelimit import credential_fingerprint
from sovra.instance import Instance

Events = Callable[[], list[dict[str, object]]]


def _get(client: TestClient, token: str) -> int:
    return client.get("/policy", headers={"Authorization": f"Bearer {token}"}).status_code


def _wrong_key() -> str:
    return f"sk-sovra-{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"


def test_one_clients_wrong_key_does_not_lock_out_a_valid_key(
        instance: Instance, admin_key: str, events: Events) -> None:
    client = TestClient(create_app(instance))
    wrong = _wrong_key()
    assert [_get(client, wrong) for _ in range(12)] == [401] * 10 + [429] * 2
    assert [_get(client, admin_key) for _ in range(3)] == [200] * 3
    failures = [e for e in events() if e["action"] == "identity.authenticate"]
    assert len(failures) == 10  # refused before any check after that: nothing more
    limited = [e for e in events() if e["action"] == "identity.rate_limited"]
    assert [e["details"] for e in limited] == [
        {"credential": wrong[:len("sk-sovra-") + 12], "scope": "credential"}]


def test_the_right_secret_is_not_locked_out_by_wrong_ones_for_the_same_key_id(
        instance: Instance, admin_key: str) -> None:
    client = TestClient(create_app(instance))
    guess = admin_key[:-6] + ("AAAAAA" if not admin_key.endswith("AAAAAA") else "BBBBBB")
    assert [_get(client, guess) for _ in range(11)] == [401] * 10 + [429]
    assert _get(client, admin_key) == 200


def test_an_address_spraying_wrong_keys_gets_429_but_its_valid_keys_pass(
        instance: Instance, admin_key: str, events: Events) -> None:
    client = TestClient(create_app(instance))
    statuses = [_get(client, _wrong_key()) for _ in range(14)]
    assert statuses == [401] * 10 + [429] * 4  # the address is over its budget
    response = client.get("/policy", headers={"Authorization": f"Bearer {_wrong_key()}"})
    assert response.status_code == 429 and int(response.headers["Retry-After"]) >= 1
    assert "fix the client's key" in response.json()["error"]["message"]
    assert _get(client, admin_key) == 200
    recorded = events()
    # Each failure up to the limit is on the record, then the limit once: a spraying
    # client cannot flood the ledger.
    assert len([e for e in recorded if e["action"] == "identity.authenticate"]) == 10
    assert [e["details"]["scope"] for e in recorded  # type: ignore[index]
            if e["action"] == "identity.rate_limited"] == ["address"]


def test_limiter_budgets_per_credential_and_per_address() -> None:
    now = [0.0]
    limiter = FailureLimiter(max_failures=3, window_s=60.0, clock=lambda: now[0])
    bad, good = credential_fingerprint("sk-sovra-bad"), credential_fingerprint("sk-sovra-ok")
    counts = [limiter.record_failure("10.0.0.1", bad) for _ in range(3)]
    assert [(c.exhausted, c.limited) for c in counts] == [(False, False)] * 2 + [(True, False)]
    with pytest.raises(RateLimitedError, match="with this credential"):
        limiter.check("10.0.0.1", bad)
    limiter.check("10.0.0.1", good)  # another credential from the same address
    limiter.check("10.0.0.2", bad)  # the same credential from another address
    other = limiter.record_failure("10.0.0.1", credential_fingerprint("sk-sovra-other"))
    assert other.limited and other.scope == "address" and other.retry_after_s == 60.0
    now[0] = 61.0  # the window slides past every failure
    limiter.check("10.0.0.1", bad)
    assert not limiter.record_failure("10.0.0.1", good).limited


def test_fingerprints_differ_for_the_same_key_id() -> None:
    a = credential_fingerprint("sk-sovra-0123456789ab_" + "A" * 43)
    b = credential_fingerprint("sk-sovra-0123456789ab_" + "B" * 43)
    assert a != b and len(a) == 32
