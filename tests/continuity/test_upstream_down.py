"""The upstream model down (issue 17, "Faults survived"): a chat on a model whose
upstream server does not listen answers a clean 503 with ``Retry-After`` through the
real API app (not 502, which stays for an upstream that answers garbage or hangs), the
refusal is recorded, and everything else keeps working."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sovra.instance import Instance
from sovra.keys import start_for_up
from tests.ai.api_support import bearer, chat_body, key_for, with_api
from tests.ai.conftest import approved_upstream
from tests.e2e.server import free_port


@pytest.fixture
def down(instance: Instance) -> Instance:
    start_for_up(instance.keys)  # development-mode ceremony: unsealed, as `sovra up` does
    approved_upstream(instance, free_port())  # nothing listens on that port
    return instance


def test_a_chat_on_a_model_whose_upstream_is_down_is_a_clean_503(down: Instance) -> None:
    key = key_for(down, "alice", roles=("admin",), clearance="secret")
    size = down.ledger.size

    async def calls(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        chat = await client.post("/v1/chat/completions", headers=bearer(key),
                                 json=chat_body("Anyone there?"))
        health = await client.get("/healthz")
        return chat, health

    chat, health = with_api(down, calls)
    assert chat.status_code == 503, chat.text
    assert int(chat.headers["Retry-After"]) >= 1
    error: dict[str, Any] = chat.json()["error"]
    assert error["code"] == "UpstreamUnavailableError" and "unreachable" in error["message"]
    assert health.status_code == 200  # everything else keeps working
    recorded = [json.loads(r.body) for r in down.ledger.tail(down.ledger.size - size)]
    outcomes = [e for e in recorded if e["action"].startswith("ai.chat")]
    assert outcomes and outcomes[-1]["outcome"] == "failure", recorded
