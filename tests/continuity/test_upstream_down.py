"""The upstream model down (issue 17, "Faults survived"): a chat on a model whose
upstream server does not listen answers a clean 503 with ``Retry-After`` through the
real API app (not 502, which stays for an upstream that answers garbage or hangs), the
refusal is recorded, and everything else keeps working; when the policy names a
fallback model (``models.fallback``), that model answers instead, recorded."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from sovra.instance import Instance
from tests.ai.api_support import bearer, chat_body, key_for, with_api
from tests.ai.conftest import approved_upstream
from tests.e2e.fake_upstream import ANSWER, running_fake_upstream
from tests.support.fallback import name_fallback, upstream_down


@pytest.fixture
def down(instance: Instance) -> Instance:
    return upstream_down(instance)


def test_a_chat_on_a_model_whose_upstream_is_down_is_a_clean_503(down: Instance) -> None:
    key = key_for(down, "alice", roles=("admin",), clearance="secret")
    size = down.ledger.size

    async def calls(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        chat = await client.post("/v1/chat/completions", headers=bearer(key),
                                 json={**chat_body("Anyone there?"),
                                       "model": "down-model"})
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


def test_a_fallback_model_the_policy_names_answers_when_the_upstream_is_down(
        down: Instance) -> None:
    """The policy names ``fake-instant`` (a live FakeUpstream) as a fallback: the chat on
    the model whose upstream is down is answered by it, and the ledger shows the failed
    request, the switch and the fallback request with its answer."""
    key = name_fallback(down)
    with running_fake_upstream() as fake:
        approved_upstream(down, fake.port, model_id="fake-instant")
        size = down.ledger.size

        async def calls(client: httpx.AsyncClient) -> httpx.Response:
            body = {**chat_body("Anyone there?"), "model": "down-model"}
            return await client.post("/v1/chat/completions", headers=bearer(key), json=body)

        answered = with_api(down, calls)
    assert answered.status_code == 200, answered.text
    assert answered.json()["model"] == "fake-instant"
    assert answered.json()["choices"][0]["message"]["content"] == ANSWER
    recorded = [json.loads(r.body) for r in down.ledger.tail(down.ledger.size - size)]
    (switch,) = [e for e in recorded if e["action"] == "ai.fallback"]
    assert switch["details"]["failed_model"] == "down-model"
    assert switch["details"]["fallback_model"] == "fake-instant"
    assert "UpstreamUnavailableError" in switch["details"]["reason"]
    allowed = [e for e in recorded if e["action"] == "policy.decision"
               and e["details"].get("action") == "models.fallback"]
    assert allowed and allowed[-1]["outcome"] == "allowed"
