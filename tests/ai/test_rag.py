"""Retrieval-augmented answers over the demo collection: permission-filtered, cited,
recorded; text kept (encrypted) only where the collection's policy says so."""

from __future__ import annotations

import asyncio
import json

from sovra.ai.gateway import ChatRequest
from sovra.ai.models import ChatMessage, GenerationParams
from sovra.ai.rag import DECLINE_ANSWER
from sovra.identity import Caller
from sovra.instance import Instance
from tests.ai.conftest import ADMIN, approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream

QUESTION = "How many days of annual leave do full-time staff receive?"


def ask_demo(instance: Instance, caller: Caller, answer: str = ANSWER
             ) -> tuple[str, tuple[object, ...]]:
    async def go() -> tuple[str, tuple[object, ...]]:
        try:
            async with instance.ai.chat(caller, None, ChatRequest(
                    "fake-instant", (ChatMessage("user", QUESTION),), GenerationParams(16),
                    collections=("demo",), top_k=3)) as chat:
                result = await chat.complete()
            assert result.text == answer
            return chat.request_id, chat.prepared.citations
        finally:
            await instance.ai.aclose()
    return asyncio.run(go())


def test_answer_cites_the_retrieved_chunks(demo_loaded: Instance,
                                           fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    request_id, citations = ask_demo(demo_loaded, ADMIN)
    assert citations
    documents = {c.document_id for c in citations}  # type: ignore[attr-defined]
    assert all(c.version == 1 and c.chunk_position >= 0 for c in citations)  # type: ignore[attr-defined]
    sent = json.dumps(fake_upstream.last_body)
    assert "28 days of paid annual leave" in sent  # the passage reached the model
    entry = demo_loaded.ai.trace_sync(request_id).request.body["details"]
    assert entry["collections"] == ["demo"]
    assert {c["document_id"] for c in entry["chunks"]} == documents
    assert entry["classification"] == "internal"  # the chunks' level, above the prompt's


def test_retrieval_is_filtered_by_clearance_before_the_model(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    demo_loaded.identity.create_principal("system", "erin", roles=["analyst"],
                                          clearance="public")
    erin = demo_loaded.identity.caller_for("erin")
    before = fake_upstream.requests
    # Every demo document is internal and erin is cleared for public: no passage, so
    # Sovra says the documents do not say, and nothing reaches the model (ADR 0610).
    _, citations = ask_demo(demo_loaded, erin, answer=DECLINE_ANSWER)
    assert citations == ()
    assert fake_upstream.requests == before


def test_text_is_kept_encrypted_only_when_the_collection_says_so(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    first, _ = ask_demo(demo_loaded, ADMIN)
    assert demo_loaded.ai.trace_sync(first).prompt_text is None
    demo_loaded.ai.set_text_policy(ADMIN, "demo", keep_text=True)
    second, _ = ask_demo(demo_loaded, ADMIN)
    found = demo_loaded.ai.trace_sync(second)
    assert found.prompt_text is not None and QUESTION in found.prompt_text
    assert found.answer_text == ANSWER
    row = demo_loaded.ai.index.get(second)
    assert row is not None and row.prompt_ciphertext is not None
    assert QUESTION.encode() not in row.prompt_ciphertext  # stored encrypted


def test_embeddings_through_the_data_layer_model(demo_loaded: Instance) -> None:
    from sovra.ai.service import register_builtin_models

    records = register_builtin_models(demo_loaded.ai)
    model = next(r for r in records if r.spec.kind == "embedding")

    async def go() -> list[list[float]]:
        try:
            _, vectors, _ = await demo_loaded.ai.embed(ADMIN, model.model_id, ["a", "b c"])
            return vectors
        finally:
            await demo_loaded.ai.aclose()

    vectors = asyncio.run(go())
    assert len(vectors) == 2 and len(vectors[0]) == 384
    assert abs(sum(x * x for x in vectors[0]) - 1.0) < 1e-3  # unit vectors
