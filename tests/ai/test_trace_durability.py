"""Issue 13: nothing acknowledged is lost (ADR 0608). A chat whose index row never reached
the disk (the process died before the batch, the disk was full) is still traced, from
its ledger entries; the text a collection keeps is durable before the answer is
released, and if it cannot be, no answer is released."""

from __future__ import annotations

import asyncio
import json

import pytest
from sqlalchemy import Engine, text

from sovra.ai.gateway import ChatRequest, Gateway
from sovra.ai.models import ChatMessage, GenerationParams
from sovra.ai.request_index import IndexRow, RequestIndex
from sovra.ai.service import open_gateway
from sovra.errors import NotFoundError, StorageError
from sovra.instance import Instance
from tests.ai.api_support import QUESTION
from tests.ai.conftest import ADMIN, approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream


def ask(content: str, collections: tuple[str, ...] = ()) -> ChatRequest:
    return ChatRequest("fake-instant", (ChatMessage("user", content),),
                       GenerationParams(max_tokens=16), collections=collections, top_k=3)


def answered_then_killed(gateway: Gateway, requests: list[ChatRequest],
                         on_disk: dict[str, IndexRow | None] | None = None) -> list[str]:
    """Answer each request, then stop as SIGKILL would: nothing flushed, no shutdown.
    ``on_disk`` gets each request's stored index row as it was when the answer came."""

    async def go() -> list[str]:
        ids = []
        for request in requests:
            async with gateway.chat(ADMIN, None, request) as chat:
                assert (await chat.complete()).text == ANSWER
            prepared = chat.prepared
            if on_disk is not None:  # read at once, before the loop runs anything else
                on_disk[prepared.request_id] = RequestIndex(gateway.index._engine).get(
                    prepared.request_id)
            ids.append(prepared.request_id)
        await gateway.backends.aclose()  # the socket only; the index is left as it is
        return ids

    return asyncio.run(go())


def restarted(instance: Instance) -> Gateway:
    """A new process's gateway over the same database."""
    return open_gateway(instance.engine, instance.ledger, instance.policy,
                        keys=instance.keys, data=instance.data)


def index_rows(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM ai_requests")).scalar_one())


def fail_index_inserts(engine: Engine) -> None:
    """Make every insert into the index fail, as a full disk does."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("CREATE TRIGGER full_disk BEFORE INSERT ON ai_requests "
                                 "BEGIN SELECT RAISE(FAIL, 'database or disk is full'); END")
        else:
            conn.exec_driver_sql("CREATE FUNCTION full_disk() RETURNS trigger AS $$ BEGIN "
                                 "RAISE EXCEPTION 'could not extend file: No space left on "
                                 "device'; END $$ LANGUAGE plpgsql")
            conn.exec_driver_sql("CREATE TRIGGER full_disk BEFORE INSERT ON ai_requests "
                                 "FOR EACH ROW EXECUTE FUNCTION full_disk()")


def disk_has_room_again(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER full_disk" if engine.dialect.name == "sqlite"
                             else "DROP TRIGGER full_disk ON ai_requests")


def test_acknowledged_chats_are_traced_after_the_index_rows_were_lost(
        unsealed: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    ids = answered_then_killed(unsealed.ai, [ask(f"Question {i}?") for i in range(3)])
    # Whatever of the batch reached the database is gone too (the disk was not synced).
    with unsealed.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM ai_requests")
    after = restarted(unsealed)
    for request_id in ids:
        found = after.trace_sync(request_id)
        assert found.request.body["details"]["request_id"] == request_id
        assert found.outcome is not None
        assert found.outcome.body["details"]["answer_sha256"]
    # Found once through the ledger, the rows are written back for the next trace.
    assert index_rows(unsealed.engine) == 3
    with pytest.raises(NotFoundError):
        after.trace_sync("chatcmpl-00ff")
    after.close()


def test_a_full_disk_loses_no_index_row_and_no_trace(unsealed: Instance,
                                                    fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    fail_index_inserts(unsealed.engine)
    gateway = unsealed.ai

    async def go() -> str:
        async with gateway.chat(ADMIN, None, ask("Still there?")) as chat:
            await chat.complete()
        await gateway.index.flush()  # fails: the rows are kept for the next try
        return chat.request_id

    request_id = asyncio.run(go())
    assert index_rows(unsealed.engine) == 0
    assert gateway.trace_sync(request_id, flush=False).outcome is not None  # from the ledger
    disk_has_room_again(unsealed.engine)
    gateway.index.flush_sync()
    row = RequestIndex(unsealed.engine).get(request_id)
    assert row is not None and row.outcome_seq is not None


def test_kept_text_is_durable_when_the_answer_is_released(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    demo_loaded.ai.set_text_policy(ADMIN, "demo", keep_text=True)
    on_disk: dict[str, IndexRow | None] = {}
    plain, kept = answered_then_killed(demo_loaded.ai, [ask("Hello?"),
                                                        ask(QUESTION, ("demo",))], on_disk)
    # When the answer was released, the kept text was in the database already.
    row = on_disk[kept]
    assert row is not None and row.prompt_ciphertext is not None
    assert row.outcome_seq is not None
    after = restarted(demo_loaded)
    found = after.trace_sync(kept)
    assert found.answer_text == ANSWER
    assert found.prompt_text is not None and QUESTION in found.prompt_text
    assert after.trace_sync(plain).prompt_text is None  # no collection, nothing kept
    after.close()


def test_no_answer_is_released_when_kept_text_cannot_be_written(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    demo_loaded.ai.set_text_policy(ADMIN, "demo", keep_text=True)
    fail_index_inserts(demo_loaded.engine)
    gateway = demo_loaded.ai
    size = demo_loaded.ledger.size

    async def go() -> None:
        try:
            async with gateway.chat(ADMIN, None, ask(QUESTION, ("demo",))) as chat:
                await chat.complete()
        finally:
            await gateway.backends.aclose()

    with pytest.raises(StorageError, match="cannot keep the text"):
        asyncio.run(go())
    entries = [json.loads(e.body) for e in demo_loaded.ledger.tail(
        demo_loaded.ledger.size - size)]
    failed = [e for e in entries if e["action"] == "ai.chat.kept_text"]
    assert len(failed) == 1 and failed[0]["outcome"] == "failure"
    disk_has_room_again(demo_loaded.engine)
