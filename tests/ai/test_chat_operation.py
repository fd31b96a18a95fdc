"""ADR 0609: one chat operation, ``Gateway.chat(caller, decision, request)``, whose
``async with`` block owns the admitted request: whatever happens inside (an answer, a
stream read to the end or abandoned, a stream never started, an error), leaving the
block gives the caller's slot back and the outcome is in the ledger. The caller's
policy decision is an explicit argument, recorded once, before anything else."""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from sovra.ai import Event, Outcome
from sovra.ai.chat import ChatRequest
from sovra.ai.gateway import Gateway
from sovra.ai.models import ChatMessage, GenerationParams
from sovra.errors import ModelNotFoundError
from sovra.instance import Instance
from tests.ai.conftest import ADMIN, approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream

DECISION = Event("alice", "policy.decision", 'Model::"*"', Outcome.ALLOWED,
                 {"action": "models.use", "decided_by": "test"})


def ask(model: str = "fake-instant") -> ChatRequest:
    return ChatRequest(model, (ChatMessage("user", "Ping?"),), GenerationParams(16))


def entries_since(instance: Instance, size: int) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in instance.ledger.tail(instance.ledger.size - size)]


def run(gateway: Gateway, body: Any) -> Any:
    async def go() -> Any:
        try:
            return await body()
        finally:
            await gateway.aclose()
    return asyncio.run(go())


@pytest.fixture
def ready(unsealed: Instance, fake_upstream: FakeUpstream) -> Instance:
    approved_upstream(unsealed, fake_upstream.port)
    return unsealed


def test_a_stream_whose_generator_never_starts_is_released_and_recorded(
        ready: Instance, fake_upstream: FakeUpstream) -> None:
    gateway, size, before = ready.ai, ready.ledger.size, fake_upstream.requests

    async def body() -> str:
        async with gateway.chat(ADMIN, None, ask()) as chat:
            chat.stream()  # made, handed to nobody, never iterated
            assert gateway.limits.active("alice") == 1
        return chat.request_id

    request_id = run(gateway, body)
    assert gateway.limits.active("alice") == 0
    assert fake_upstream.requests == before  # the model never ran
    outcome = entries_since(ready, size)[-1]
    assert (outcome["action"], outcome["outcome"]) == ("ai.chat.outcome", "failure")
    assert outcome["details"]["request_id"] == request_id
    assert outcome["details"]["reason"] == "answer never started"


def test_an_error_in_the_block_before_the_answer_is_released_and_recorded(
        ready: Instance) -> None:
    gateway, size = ready.ai, ready.ledger.size

    async def body() -> None:
        async with gateway.chat(ADMIN, None, ask()):
            raise OSError("the client went away before the answer began")

    with pytest.raises(OSError, match="went away"):
        run(gateway, body)
    assert gateway.limits.active("alice") == 0
    outcome = entries_since(ready, size)[-1]
    assert outcome["action"] == "ai.chat.outcome"
    assert outcome["details"]["reason"] == "answer never started: OSError"


def test_an_abandoned_stream_is_recorded_with_what_was_sent(ready: Instance) -> None:
    gateway, size = ready.ai, ready.ledger.size

    async def body() -> str:
        async with gateway.chat(ADMIN, None, ask()) as chat:
            async for delta in chat.stream():
                if delta.text:
                    return delta.text  # the reader stops after the first piece
        raise AssertionError("the stream had no text")

    first = run(gateway, body)
    assert gateway.limits.active("alice") == 0
    outcome = entries_since(ready, size)[-1]
    assert (outcome["action"], outcome["outcome"]) == ("ai.chat.outcome", "failure")
    assert outcome["details"]["reason"] == "client disconnected"
    assert outcome["details"]["answer_sha256"] == hashlib.sha256(first.encode()).hexdigest()


def test_the_decision_is_committed_once_with_the_request_entry(ready: Instance) -> None:
    gateway, size = ready.ai, ready.ledger.size

    async def body() -> str:
        async with gateway.chat(ADMIN, DECISION, ask()) as chat:
            return (await chat.complete()).text

    assert run(gateway, body) == ANSWER
    assert gateway.limits.active("alice") == 0
    entries = entries_since(ready, size)
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("policy.decision", "allowed"), ("ai.chat", "allowed"),
        ("ai.chat.outcome", "success")]
    assert entries[0]["details"]["decided_by"] == "test"


def test_a_refusal_records_the_decision_then_the_failure(ready: Instance) -> None:
    gateway, size = ready.ai, ready.ledger.size

    async def body() -> None:
        async with gateway.chat(ADMIN, DECISION, ask("no-such-model")):
            raise AssertionError("an unknown model is refused on the way in")

    with pytest.raises(ModelNotFoundError):
        run(gateway, body)
    assert gateway.limits.active("alice") == 0
    entries = entries_since(ready, size)
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("policy.decision", "allowed"), ("ai.chat", "failure")]
    assert entries[1]["details"]["error"] == "ModelNotFoundError"


def test_a_failure_is_one_shape_denied_for_a_refusal_by_rule() -> None:
    from sovra.errors import InvalidInputError, QuotaExceededError

    quota = Event.failure("a", "ai.chat", "model/m", QuotaExceededError("over", 1.0))
    broken = Event.failure("a", "ai.chat", "model/m", InvalidInputError("bad"), {"x": 1})
    assert quota.outcome is Outcome.DENIED and broken.outcome is Outcome.FAILURE
    assert broken.fields() == ("a", "ai.chat", "model/m", "failure",
                               {"x": 1, "error": "InvalidInputError", "reason": "bad"})
    with pytest.raises(ValueError, match="granted"):
        Event.of_fields(("a", "policy.decision", "r", "granted", None))  # not an outcome
