"""The gateway's governance on real services: ledger, policy, keys, detectors, a FakeUpstream."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from sovra.ai.gateway import ChatRequest, Gateway
from sovra.ai.models import ChatMessage, GenerationParams
from sovra.ai.service import open_gateway
from sovra.ai.settings import AISettings
from sovra.ai.trace import verify_trace
from sovra.errors import (
    ClassificationRefusedError,
    LedgerUnavailableError,
    ModelNotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    SealedError,
)
from sovra.instance import Instance
from tests.ai.conftest import ADMIN, approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream

PARAMS = GenerationParams(max_tokens=16)


def ask(text: str, model: str = "fake-instant") -> ChatRequest:
    return ChatRequest(model, (ChatMessage("user", text),), PARAMS)


async def chat(gateway: Gateway, request: ChatRequest, *, stream: bool = False
               ) -> tuple[str, str]:
    try:
        async with gateway.chat(ADMIN, None, request) as answer:
            if stream:
                text = "".join([d.text async for d in answer.stream()])
            else:
                text = (await answer.complete()).text
        return answer.request_id, text
    finally:
        await gateway.aclose()


def own_gateway(instance: Instance, **settings: object) -> Gateway:
    return open_gateway(instance.engine, instance.ledger, instance.policy,
                        settings=AISettings(**settings), keys=instance.keys)  # type: ignore[arg-type]


def test_answer_is_recorded_and_traceable(unsealed: Instance, fake_upstream: FakeUpstream
                                          ) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    request_id, text = asyncio.run(chat(unsealed.ai, ask("What is our leave policy?")))
    assert text == ANSWER
    found = unsealed.ai.trace_sync(request_id, sign=True)
    verify_trace(found)  # inclusion proofs and leaf hashes check out
    details = found.request.body["details"]
    assert found.request.body["actor"] == "alice"
    assert found.request.body["outcome"] == "allowed"
    assert details["weights_sha256"] == "ab" * 32
    assert details["prompt_sha256"] == hashlib.sha256(
        b"user: What is our leave policy?").hexdigest()
    assert found.outcome is not None
    outcome = found.outcome.body["details"]
    assert found.outcome.body["outcome"] == "success"
    assert outcome["answer_sha256"] == hashlib.sha256(ANSWER.encode()).hexdigest()
    assert outcome["completion_tokens"] == 6
    assert found.checkpoint is not None and found.checkpoint.count("\n") >= 3


def test_streamed_answer_is_recorded(unsealed: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    request_id, text = asyncio.run(chat(unsealed.ai, ask("hello"), stream=True))
    assert text.strip() == ANSWER
    found = unsealed.ai.trace_sync(request_id)
    assert found.outcome is not None
    assert found.outcome.body["details"]["answer_sha256"] == hashlib.sha256(
        text.encode()).hexdigest()


def test_data_above_the_ceiling_is_refused_before_the_model_sees_it(
        unsealed: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port, ceiling="internal")
    before = fake_upstream.requests
    with pytest.raises(ClassificationRefusedError, match="confidential exceeds model ceiling"):
        asyncio.run(chat(unsealed.ai, ask("Pay to IBAN DE89370400440532013000 today")))
    assert fake_upstream.requests == before
    last = json.loads(unsealed.ledger.tail(1)[0].body)
    assert (last["action"], last["outcome"]) == ("ai.chat", "denied")
    assert last["details"]["classification"] == "confidential"


def test_redact_mode_sends_the_model_no_personal_data(unsealed: Instance,
                                                       fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port, ceiling="public")
    gateway = own_gateway(unsealed, classification_mode="redact")
    _, text = asyncio.run(chat(gateway, ask("Write to jane.doe@example.com about it")))
    assert text == ANSWER
    sent = json.dumps(fake_upstream.last_body)
    assert "jane.doe@example.com" not in sent
    assert "[REDACTED email]" in sent
    request = json.loads(unsealed.ledger.tail(2)[0].body)
    assert request["details"]["redacted_spans"] == 1
    assert request["details"]["classification_before"] == "internal"


def test_sealed_instance_answers_nothing(unsealed: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    unsealed.keys.seal(actor="test")
    before = fake_upstream.requests
    with pytest.raises(SealedError):
        asyncio.run(chat(unsealed.ai, ask("hello")))
    assert fake_upstream.requests == before


def test_no_answer_when_the_ledger_cannot_record(unsealed: Instance,
                                                 fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    unsealed.ledger.close()  # appends now fail: the ledger is unavailable
    before = fake_upstream.requests
    with pytest.raises(LedgerUnavailableError):
        asyncio.run(chat(unsealed.ai, ask("hello")))
    assert fake_upstream.requests == before


def test_a_quota_refuses_with_a_retry_hint(unsealed: Instance,
                                           fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    gateway = own_gateway(unsealed, requests_per_minute=1)
    asyncio.run(chat(gateway, ask("one")))
    with pytest.raises(QuotaExceededError) as caught:
        asyncio.run(chat(gateway, ask("two")))
    assert caught.value.retry_after_s >= 1.0


def test_refusals_before_the_model_are_recorded(unsealed: Instance,
                                                fake_upstream: FakeUpstream) -> None:
    with pytest.raises(ModelNotFoundError):
        asyncio.run(chat(unsealed.ai, ask("hello", model="no-such-model")))
    last = json.loads(unsealed.ledger.tail(1)[0].body)
    assert (last["action"], last["outcome"]) == ("ai.chat", "failure")
    assert last["details"]["error"] == "ModelNotFoundError"
    approved_upstream(unsealed, fake_upstream.port)
    gateway = own_gateway(unsealed, requests_per_minute=1)
    asyncio.run(chat(gateway, ask("one")))
    with pytest.raises(QuotaExceededError):
        asyncio.run(chat(gateway, ask("two")))
    last = json.loads(unsealed.ledger.tail(1)[0].body)
    assert (last["outcome"], last["details"]["error"]) == ("denied", "QuotaExceededError")


def test_external_providers_are_off_and_never_get_more_than_internal(
        unsealed: Instance, fake_upstream: FakeUpstream) -> None:
    from dataclasses import replace

    from tests.ai.conftest import APPROVER, upstream_spec

    external = replace(upstream_spec(fake_upstream.port, "fake-instant", "secret"),
                       locality="external")
    unsealed.ai.registry.register(ADMIN, external)
    unsealed.ai.registry.approve(APPROVER, "fake-instant")
    before = fake_upstream.requests
    with pytest.raises(PermissionDeniedError, match="external providers are disabled"):
        asyncio.run(chat(unsealed.ai, ask("hello")))
    allowed = own_gateway(unsealed, allow_external=True)
    _, text = asyncio.run(chat(allowed, ask("hello")))  # policy allows the admin
    assert text == ANSWER
    # That use of an external model was decided by policy and recorded (off the loop).
    uses = [json.loads(r.body) for r in unsealed.ledger.tail(10)]
    uses = [e for e in uses if e["action"] == "policy.decision"
            and e["details"]["action"] == "models.use"]
    assert [(e["actor"], e["resource"], e["outcome"]) for e in uses] == [
        ("alice", 'Model::"fake-instant"', "allowed")]
    with pytest.raises(ClassificationRefusedError, match="ceiling internal"):
        # approved up to secret, but nothing above internal leaves for an external model
        asyncio.run(chat(own_gateway(unsealed, allow_external=True),
                         ask("Pay to IBAN DE89370400440532013000")))
    assert fake_upstream.requests == before + 1
