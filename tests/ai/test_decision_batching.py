"""ADR 0605: the chat route's policy decision is committed in one batch with the
request's ``ai.chat`` entry (decision first), is recorded on every other way out too, and
no answer leaves when that batch cannot be recorded."""

from __future__ import annotations

import asyncio
import json

import httpx

from sovra.api import create_app
from sovra.identity import ensure_first_admin
from sovra.instance import Instance
from tests.ai.conftest import approved_upstream
from tests.e2e.fake_upstream import FakeUpstream
from tests.ledger.conftest import deny_ledger_inserts

CHAT = {"model": "fake-instant", "max_tokens": 8,
        "messages": [{"role": "user", "content": "Ping?"}]}


def _post(instance: Instance, key: str, body: dict[str, object]) -> httpx.Response:
    app = create_app(instance)

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/v1/chat/completions", json=body,
                                     headers={"Authorization": f"Bearer {key}"})

    return asyncio.run(go())


def _since(instance: Instance, size: int) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in instance.ledger.tail(instance.ledger.size - size)]


def test_decision_and_request_entry_share_one_batch(unsealed: Instance,
                                                    fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    key = ensure_first_admin(unsealed)
    assert key is not None
    size = unsealed.ledger.size
    response = _post(unsealed, key, CHAT)
    assert response.status_code == 200
    entries = _since(unsealed, size)
    assert [e["action"] for e in entries] == ["policy.decision", "ai.chat", "ai.chat.outcome"]
    decision, request, _outcome = entries
    assert decision["outcome"] == request["outcome"] == "allowed"
    assert decision["seq"] == int(str(request["seq"])) - 1
    assert decision["time"] == request["time"]  # stamped once per batch: the same commit


def test_refusals_record_the_decision_first(unsealed: Instance) -> None:
    key = ensure_first_admin(unsealed)
    assert key is not None
    cases = [({**CHAT, "model": "no-such-model"}, 404, "ai.chat"),  # gateway refusal
             ({**CHAT, "messages": [{"role": "system", "content": "x"}]}, 400,
              "ai.request.invalid"),  # parses, but asks for nothing answerable
             ({**CHAT, "messages": [{"role": "wizard", "content": "x"}]}, 400,
              "ai.request.invalid")]
    for body, status, then in cases:
        size = unsealed.ledger.size
        assert _post(unsealed, key, body).status_code == status
        actions = [e["action"] for e in _since(unsealed, size)]
        assert actions == ["policy.decision", then], (body, actions)


def test_unrecordable_batch_means_no_answer(unsealed: Instance,
                                            fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    key = ensure_first_admin(unsealed)
    assert key is not None
    assert _post(unsealed, key, CHAT).status_code == 200  # warm: key verified, memoised
    calls = fake_upstream.requests
    size = unsealed.ledger.size
    deny_ledger_inserts(unsealed.engine)
    response = _post(unsealed, key, CHAT)
    assert response.status_code == 503
    assert "choices" not in response.json()
    assert fake_upstream.requests == calls  # the model was never called
    assert unsealed.ledger.size == size
