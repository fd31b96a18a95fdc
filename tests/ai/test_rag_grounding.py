"""Honest answers (issue 15, ADR 0610): chunks below the relevance threshold never reach
the model; with none left Sovra answers "The documents do not say." itself, recorded;
citations only for the passages an answer used."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest

from sovra.ai.gateway import ChatRequest, Gateway
from sovra.ai.models import ChatMessage, Citation, GenerationParams, RetrievedChunk
from sovra.ai.rag import (
    DECLINE,
    DECLINE_ANSWER,
    RELEVANCE_THRESHOLD,
    cited,
    cosine,
    ground,
    passages_of,
    used_passages,
    with_context,
)
from sovra.ai.service import open_gateway
from sovra.ai.settings import AISettings
from sovra.instance import Instance
from tests.ai.conftest import ADMIN, approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream

OFF_TOPIC = "Which cloud provider hosts the public website?"
ON_TOPIC = "How many days of paid annual leave do full-time staff receive?"


def chunk(n: int, text: str = "text") -> RetrievedChunk:
    return RetrievedChunk(Citation("demo", f"doc{n}", 1, n, f"doc{n}#{n}", "internal"), text)


# -- pure ---------------------------------------------------------------------------------

def test_chunks_below_the_threshold_are_dropped() -> None:
    chunks = [chunk(0), chunk(1), chunk(2)]
    grounded = ground(chunks, [0.55, 0.12, 0.30], 0.30)
    assert [c.citation.chunk_position for c in grounded.chunks] == [0, 2]
    assert not grounded.declined
    assert grounded.details()["similarity_milli"] == [550, 120, 300]


def test_no_relevant_chunk_declines_with_the_best_score_as_reason() -> None:
    grounded = ground([chunk(0), chunk(1)], [0.21, 0.29], 0.30)
    assert grounded.declined and grounded.chunks == ()
    assert "0.29 < 0.30" in grounded.reason
    assert grounded.details()["decision"] == "decline"


def test_nothing_retrieved_declines() -> None:
    assert ground([], [], RELEVANCE_THRESHOLD).declined


def test_one_similarity_per_chunk() -> None:
    with pytest.raises(ValueError, match="one similarity per chunk"):
        ground([chunk(0)], [], 0.3)


def test_cosine() -> None:
    assert cosine([1.0, 0.0], [2.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert cosine([0.0, 0.0], [1.0, 0.0]) == 0.0


def test_prompt_tells_the_model_the_exact_decline_sentence() -> None:
    messages = with_context([ChatMessage("user", "q")], ["passage one"])
    assert messages[0].role == "system" and DECLINE_ANSWER in messages[0].content
    assert "[1] passage one" in messages[0].content


def test_citations_follow_the_models_marks() -> None:
    passages = ["Core hours are 10:00 to 15:00.", "28 days of leave.", "Hotels 160 EUR."]
    assert used_passages("Staff receive 28 days [2].", passages) == (1,)
    assert used_passages("See [9] and [3].", passages) == (2,)  # [9] names no passage


def test_citations_by_shared_figures_or_words_without_marks() -> None:
    passages = ["Core hours are 10:00 to 15:00 local time.", "Staff receive 28 days of leave.",
                "Hotel costs are reimbursed up to 160 EUR."]
    assert used_passages("Full-time staff get 28 days.", passages) == (1,)
    assert used_passages("Hotel costs are reimbursed generously.", passages) == (2,)
    assert used_passages("I like turtles.", passages) == ()


def test_the_decline_answer_cites_nothing() -> None:
    assert used_passages(DECLINE_ANSWER, ["The documents do not say much."]) == ()


# -- the gateway, on a real instance with the demo collection -------------------------------

def ask(instance: Instance, question: str, *, stream: bool = False,
        gateway: Gateway | None = None) -> tuple[str, str, object, tuple[Citation, ...]]:
    ai = gateway or instance.ai

    async def go() -> tuple[str, str, object, tuple[Citation, ...]]:
        try:
            async with ai.chat(ADMIN, None, ChatRequest(
                    "fake-instant", (ChatMessage("user", question),), GenerationParams(16),
                    collections=("demo",), top_k=4)) as chat:
                if stream:
                    text = "".join([d.text async for d in chat.stream()])
                else:
                    text = (await chat.complete()).text
            return chat.request_id, text, chat.prepared.backend, chat.prepared.citations
        finally:
            await ai.aclose()
    return asyncio.run(go())


@pytest.mark.parametrize("stream", [False, True])
def test_an_off_topic_question_is_declined_without_the_model(
        demo_loaded: Instance, fake_upstream: FakeUpstream, stream: bool) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    before = fake_upstream.requests
    request_id, text, backend, citations = ask(demo_loaded, OFF_TOPIC, stream=stream)
    assert text == DECLINE_ANSWER
    assert backend is DECLINE and fake_upstream.requests == before  # no model ran
    assert citations == ()
    found = demo_loaded.ai.trace_sync(request_id)
    details = found.request.body["details"]
    assert details["chunks"] == []  # nothing was given to a model
    assert details["grounding"]["decision"] == "decline"
    assert max(details["grounding"]["similarity_milli"]) < details["grounding"][
        "threshold_milli"]
    assert found.outcome is not None
    assert found.outcome.body["details"]["answer_sha256"] == hashlib.sha256(
        DECLINE_ANSWER.encode()).hexdigest()


def test_an_answerable_question_reaches_the_model_with_only_relevant_chunks(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    request_id, text, backend, citations = ask(demo_loaded, ON_TOPIC)
    assert text == ANSWER and backend is not DECLINE
    assert "28 days of paid annual leave" in json.dumps(fake_upstream.last_body)
    grounding = demo_loaded.ai.trace_sync(request_id).request.body["details"]["grounding"]
    assert grounding["decision"] == "answer"
    kept = [s for s in grounding["similarity_milli"] if s >= grounding["threshold_milli"]]
    assert len(citations) == len(kept) >= 1  # only the chunks given to the model


def test_threshold_minus_one_gives_the_model_every_chunk(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    gateway = open_gateway(demo_loaded.engine, demo_loaded.ledger, demo_loaded.policy,
                           settings=AISettings(relevance_threshold=-1.0),
                           keys=demo_loaded.keys, data=demo_loaded.data)
    _, text, backend, citations = ask(demo_loaded, OFF_TOPIC, gateway=gateway)
    assert text == ANSWER and backend is not DECLINE and len(citations) == 4


def test_only_the_passages_the_answer_used_are_cited() -> None:
    chunks = [chunk(0), chunk(1), chunk(2)]
    citations = [c.citation for c in chunks]
    messages = with_context([ChatMessage("user", "q")], [
        "Core hours are 10:00 to 15:00.", "Staff receive 28 days of leave.",
        "Hotel costs up to 160 EUR."])
    assert passages_of(messages)[1] == "Staff receive 28 days of leave."
    assert cited(citations, messages, "You get 28 days.") == (citations[1],)
    assert cited(citations, messages, "Passage [3] says so.") == (citations[2],)
    # Nothing in common: cannot be determined, so every passage stays cited.
    assert cited(citations, messages, "Yes.") == tuple(citations)
    assert cited(citations, messages, DECLINE_ANSWER) == ()


def test_the_api_cites_what_the_answer_used(demo_loaded: Instance,
                                            fake_upstream: FakeUpstream) -> None:
    from sovra.ai import wire
    from sovra.ai.chat import ChatResult
    from sovra.ai.models import Usage

    approved_upstream(demo_loaded, fake_upstream.port)

    async def go() -> tuple[object, object]:
        try:
            async with demo_loaded.ai.chat(ADMIN, None, ChatRequest(
                    "fake-instant", (ChatMessage("user", ON_TOPIC),), GenerationParams(16),
                    collections=("demo",), top_k=4)) as chat:
                await chat.complete()
                prepared = chat.prepared
            said = ChatResult("Full-time staff receive 28 days of paid annual leave.", "stop",
                              Usage(1, 1))
            return prepared, json.loads(wire.completion_body(prepared, said))
        finally:
            await demo_loaded.ai.aclose()

    prepared, body = asyncio.run(go())
    sent = body["sovra"]["citations"]  # type: ignore[index]
    assert 1 <= len(sent) <= len(prepared.citations)  # type: ignore[attr-defined]
    assert "28 days" in passages_of(prepared.messages)[0]  # type: ignore[attr-defined]
    assert sent[0]["chunk_id"] == prepared.citations[0].chunk_id  # type: ignore[attr-defined]
