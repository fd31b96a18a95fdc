"""Issue 13: a trace is classified like the request it shows. An auditor reads the trace
of a RAG request (its retrieved documents, its kept prompt and answer) only with the
clearance those documents ask for, through ``GET /v1/sovra/trace/{id}``."""

from __future__ import annotations

import json

import httpx

from sovra.instance import Instance
from tests.ai.api_support import QUESTION, bearer, chat, keep_text, key_for, with_api
from tests.ai.conftest import approved_upstream
from tests.e2e.fake_upstream import ANSWER, FakeUpstream


def _decisions(instance: Instance, since: int) -> list[dict[str, object]]:
    entries = [json.loads(e.body) for e in instance.ledger.tail(instance.ledger.size - since)]
    return [e for e in entries if e["action"] == "policy.decision"
            and str(e["resource"]).startswith("Trace::")]


def test_trace_needs_the_clearance_of_the_documents_it_touched(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    admin = key_for(demo_loaded, "alice", create=False)  # admin, clearance secret
    public_auditor = key_for(demo_loaded, "audrey", roles=("auditor",), clearance="public")
    internal_auditor = key_for(demo_loaded, "ian", roles=("auditor",), clearance="internal")

    async def calls(client: httpx.AsyncClient) -> tuple[str, list[httpx.Response], int]:
        await keep_text(client, admin, "demo")
        request_id = await chat(client, admin, QUESTION, ("demo",))
        size = demo_loaded.ledger.size
        url = f"/v1/sovra/trace/{request_id}"
        seen = [await client.get(url, headers=bearer(public_auditor)),
                await client.get(url, headers=bearer(internal_auditor))]
        return request_id, seen, size

    request_id, (public, internal), size = with_api(demo_loaded, calls)
    # The demo documents are internal: the public auditor sees nothing of the trace.
    assert public.status_code == 403, public.text
    assert ANSWER not in public.text and QUESTION not in public.text
    assert "28 days" not in public.text
    assert internal.status_code == 200, internal.text
    assert internal.json()["answer_text"] == ANSWER
    assert internal.json()["request"]["entry"]["details"]["classification"] == "internal"
    # Both decisions with the classification are in the ledger, the deny with its reason.
    decided = [d for d in _decisions(demo_loaded, size)
               if d["resource"] == f'Trace::"{request_id}"']
    outcomes = [d["outcome"] for d in decided]
    assert outcomes == ["allowed", "denied", "allowed", "allowed"]  # route, then level
    denied = next(d for d in decided if d["outcome"] == "denied")
    assert "clearance-at-least-classification" in json.dumps(denied["details"])


def test_a_public_request_stays_traceable_at_public_clearance(
        unsealed: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    admin = key_for(unsealed, "alice", roles=("admin",), clearance="secret")
    auditor = key_for(unsealed, "audrey", roles=("auditor",), clearance="public")
    analyst = key_for(unsealed, "carl", roles=("analyst",), clearance="secret")

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        request_id = await chat(client, admin, "Hello?")
        url = f"/v1/sovra/trace/{request_id}"
        return [await client.get(url, headers=bearer(auditor)),
                await client.get(url, headers=bearer(analyst)),
                await client.get("/v1/sovra/trace/chatcmpl-0123", headers=bearer(auditor)),
                await client.get("/v1/sovra/trace/not%20an%20id", headers=bearer(auditor))]

    public, analyst_seen, unknown, malformed = with_api(unsealed, calls)
    assert public.status_code == 200, public.text
    assert public.json()["request"]["entry"]["details"]["classification"] == "public"
    assert analyst_seen.status_code == 403  # clearance is not a role: analysts trace nothing
    assert (unknown.status_code, malformed.status_code) == (404, 404)


def test_a_secret_prompt_needs_secret_clearance(unsealed: Instance,
                                                fake_upstream: FakeUpstream) -> None:
    approved_upstream(unsealed, fake_upstream.port)
    admin = key_for(unsealed, "alice", roles=("admin",), clearance="secret")
    auditor = key_for(unsealed, "ian", roles=("auditor",), clearance="confidential")
    cleared = key_for(unsealed, "sue", roles=("auditor",), clearance="secret")
    # A private key in the prompt: the detectors make it secret.
    prompt = ("Is this key still valid?\n-----BEGIN RSA PRIVATE KEY-----\n"
              "MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
              "-----END RSA PRIVATE KEY-----")

    async def calls(client: httpx.AsyncClient) -> list[httpx.Response]:
        request_id = await chat(client, admin, prompt)
        url = f"/v1/sovra/trace/{request_id}"
        return [await client.get(url, headers=bearer(auditor)),
                await client.get(url, headers=bearer(cleared))]

    confidential, secret = with_api(unsealed, calls)
    assert secret.status_code == 200, secret.text
    assert secret.json()["request"]["entry"]["details"]["classification"] == "secret"
    assert confidential.status_code == 403, confidential.text
