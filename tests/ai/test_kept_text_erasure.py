"""Issue 13: erasure by data subject (``POST /data/erasures``) reaches the prompts and
answers the gateway kept, and the signed certificate counts them."""

from __future__ import annotations

import json

import httpx

from sovra.data.certificates import verify_certificate
from sovra.data.values import CollectionSpec
from sovra.instance import Instance
from sovra.policy import Classification
from tests.ai.api_support import QUESTION, bearer, chat, keep_text, key_for, with_api
from tests.ai.conftest import ADMIN, approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream

ANNA = ("Anna Keller (anna.keller@example.com) is on parental leave until June; her "
        "manager approves her requests.")


def _kept_rows(instance: Instance) -> dict[str, bool]:
    with instance.engine.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT request_id, prompt_ciphertext IS NOT NULL OR answer_ciphertext IS NOT NULL "
            "FROM ai_requests").all()
    return {str(r[0]): bool(r[1]) for r in rows}


def _erase(client: httpx.AsyncClient, key: str, subject: str) -> httpx.Response:
    return client.post("/data/erasures", headers=bearer(key), json={"subject": subject})  # type: ignore[return-value]


def test_erasing_a_subject_erases_the_kept_text_that_names_it(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    admin = key_for(demo_loaded, "alice", create=False)
    auditor = key_for(demo_loaded, "ian", roles=("auditor",), clearance="secret")

    async def calls(client: httpx.AsyncClient) -> tuple[str, str, httpx.Response,
                                                         list[httpx.Response]]:
        await keep_text(client, admin, "demo")
        named = await chat(client, admin, "Please e-mail Anna.Keller@Example.com the leave "
                           "policy.", ("demo",))
        other = await chat(client, admin, QUESTION, ("demo",))
        erased = await _erase(client, admin, "anna.keller@example.com")
        traces = [await client.get(f"/v1/sovra/trace/{rid}", headers=bearer(auditor))
                  for rid in (named, other)]
        return named, other, erased, traces

    named, other, erased, (named_trace, other_trace) = with_api(demo_loaded, calls)
    assert erased.status_code == 201, erased.text
    certificate = erased.json()
    assert certificate["cached_answers"] == {"ai.kept_text": 1}
    verify_certificate(json.dumps(certificate))  # signed, counts included
    # Gone from the store (the row stays: hashes and ledger links hold no text) ...
    assert _kept_rows(demo_loaded) == {named: False, other: True}
    # ... and from the trace, which still proves the request.
    assert named_trace.status_code == 200
    assert named_trace.json()["prompt_text"] is None
    assert named_trace.json()["answer_text"] is None
    assert named_trace.json()["outcome"] is not None
    assert other_trace.json()["answer_text"] == ANSWER
    # Recorded: which requests lost their text, under which certificate; no subject.
    entries = [json.loads(e.body) for e in demo_loaded.ledger.tail(50)]
    erasure = [e for e in entries if e["action"] == "ai.kept_text.erase"]
    assert len(erasure) == 1
    assert erasure[0]["details"] == {"certificate_id": certificate["id"], "requests": [named]}
    assert "anna" not in json.dumps(erasure[0]).lower()


def test_kept_text_of_requests_over_an_erased_document_is_erased(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    data = demo_loaded.data
    data.create_collection(ADMIN, CollectionSpec(
        id="hr", owner="People", purpose="leave records", subject_categories=("employees",),
        data_categories=("leave",), retention_days=365, jurisdiction="EU",
        ceiling=Classification.CONFIDENTIAL))
    data.ingest(ADMIN, "hr", "leave.txt", ANNA.encode())
    admin = key_for(demo_loaded, "alice", create=False)

    async def calls(client: httpx.AsyncClient) -> tuple[str, httpx.Response]:
        await keep_text(client, admin, "hr")
        # The question does not name her; the retrieved document does.
        asked = await chat(client, admin, "Who is on parental leave until June?", ("hr",))
        return asked, await _erase(client, admin, "Anna Keller")

    asked, erased = with_api(demo_loaded, calls)
    assert erased.status_code == 201, erased.text
    certificate = erased.json()
    assert len(certificate["erased"]) == 1
    assert certificate["cached_answers"] == {"ai.kept_text": 1}
    assert _kept_rows(demo_loaded)[asked] is False
    found = demo_loaded.ai.trace_sync(asked)
    assert (found.prompt_text, found.answer_text) == (None, None)
