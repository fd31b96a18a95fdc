"""A streamed chat on a model whose upstream is down (issue 17): the stream's first
delta is awaited before any byte is sent, so the answer is either the policy-named
fallback model's, from its first chunk (never spliced from two models), or a clean 503
with ``Retry-After``, the same as a complete answer, and never a 200 with an error
inside. Through the real API app and a real fake upstream on loopback."""

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


def _stream(instance: Instance, key: str) -> tuple[int, dict[str, str], bytes]:
    async def calls(client: httpx.AsyncClient) -> tuple[int, dict[str, str], bytes]:
        body = {**chat_body("Anyone there?"), "model": "down-model", "stream": True}
        async with client.stream("POST", "/v1/chat/completions", headers=bearer(key),
                                 json=body) as response:
            return response.status_code, dict(response.headers), await response.aread()

    return with_api(instance, calls)


def _recorded(instance: Instance, since: int) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in instance.ledger.tail(instance.ledger.size - since)]


def test_a_stream_on_a_down_upstream_without_fallback_is_a_clean_503(down: Instance
                                                                     ) -> None:
    key = key_for(down, "alice", roles=("admin",), clearance="secret")
    size = down.ledger.size
    status, headers, content = _stream(down, key)
    assert status == 503, content
    assert int(headers["retry-after"]) >= 1
    error = json.loads(content)["error"]
    assert error["code"] == "UpstreamUnavailableError" and "unreachable" in error["message"]
    outcomes = [e for e in _recorded(down, size) if e["action"].startswith("ai.chat")]
    assert outcomes and outcomes[-1]["outcome"] == "failure"
    assert outcomes[-1]["details"]["reason"] == "UpstreamUnavailableError"


def test_a_stream_on_a_down_upstream_is_answered_by_the_policy_named_fallback(
        down: Instance) -> None:
    key = name_fallback(down)
    with running_fake_upstream() as fake:
        approved_upstream(down, fake.port, model_id="fake-instant")
        size = down.ledger.size
        status, _, content = _stream(down, key)
    assert status == 200, content
    events = [line[len(b"data: "):] for line in content.splitlines()
              if line.startswith(b"data: ")]
    assert events[-1] == b"[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    # Every chunk, the first included, names the model that answered: nothing spliced.
    assert {c["model"] for c in chunks} == {"fake-instant"}
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks
                   if c["choices"]).strip() == ANSWER
    recorded = _recorded(down, size)
    (switch,) = [e for e in recorded if e["action"] == "ai.fallback"]
    assert switch["details"]["failed_model"] == "down-model"
    assert switch["details"]["fallback_model"] == "fake-instant"
    assert "UpstreamUnavailableError" in switch["details"]["reason"]
    failed_request = switch["resource"].removeprefix("ai/request/")
    outcomes = {e["details"]["request_id"]: (e["resource"], e["outcome"])
                for e in recorded if e["action"] == "ai.chat.outcome"}
    assert outcomes.pop(failed_request) == ("model/down-model", "failure")
    assert list(outcomes.values()) == [("model/fake-instant", "success")]
