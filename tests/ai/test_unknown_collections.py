"""A question over a collection that does not exist, or that the caller may not read, is
refused clearly instead of answered without documents (issue 15): 404 or 403 in OpenAI's
error format on ``/v1/chat/completions``, the same on ``/data/search``, and recorded."""

from __future__ import annotations

import json

import httpx
import pytest

from sovra.errors import NotFoundError, PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance
from tests.ai.api_support import bearer, chat_body, key_for, with_api
from tests.ai.conftest import approved_upstream
from tests.e2e.fake_upstream import FakeUpstream

OUTSIDER = Caller("mallory", "user", frozenset(), "secret")


def _entries(instance: Instance, since: int) -> list[dict[str, object]]:
    return [json.loads(r.body) for r in instance.ledger.tail(instance.ledger.size - since)]


def test_chat_over_an_unknown_collection_is_404_and_recorded(
        demo_loaded: Instance, fake_upstream: FakeUpstream) -> None:
    approved_upstream(demo_loaded, fake_upstream.port)
    key = key_for(demo_loaded, "dave", roles=("analyst",), clearance="internal")
    size = demo_loaded.ledger.size

    async def calls(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        unknown = await client.post("/v1/chat/completions", headers=bearer(key),
                                    json=chat_body("annual leave?", ("demo", "dmeo")))
        known = await client.post("/v1/chat/completions", headers=bearer(key),
                                  json=chat_body("annual leave?", ("demo",)))
        return unknown, known

    unknown, known = with_api(demo_loaded, calls)
    assert unknown.status_code == 404, unknown.text
    error = unknown.json()["error"]
    assert (error["type"], error["code"]) == ("not_found_error", "NotFoundError")
    assert "'dmeo'" in error["message"] and "'demo'" not in error["message"]
    assert known.status_code == 200, known.text
    entries = _entries(demo_loaded, size)
    refused = [e for e in entries if e["action"] == "ai.chat" and e["outcome"] == "failure"]
    assert len(refused) == 1
    assert refused[0]["details"]["error"] == "NotFoundError"  # type: ignore[index]
    retrieval = [e for e in entries if e["action"] == "data.retrieve"
                 and e["outcome"] == "failure"]
    assert retrieval and retrieval[0]["details"]["unknown"] == ["dmeo"]  # type: ignore[index]


def test_search_over_an_unknown_collection_is_404(demo_loaded: Instance) -> None:
    key = key_for(demo_loaded, "dave", roles=("analyst",), clearance="internal")

    async def calls(client: httpx.AsyncClient) -> tuple[httpx.Response, httpx.Response]:
        unknown = await client.post("/data/search", headers=bearer(key), json={
            "query": "annual leave", "collections": ["nope"], "k": 3})
        known = await client.post("/data/search", headers=bearer(key), json={
            "query": "annual leave", "collections": ["demo"], "k": 3})
        return unknown, known

    unknown, known = with_api(demo_loaded, calls)
    assert unknown.status_code == 404, unknown.text
    assert "'nope'" in unknown.text
    assert known.status_code == 200 and known.json()


def test_a_collection_the_caller_may_not_read_is_refused_not_ignored(
        demo_loaded: Instance) -> None:
    size = demo_loaded.ledger.size
    with pytest.raises(PermissionDeniedError, match="'demo'"):
        demo_loaded.data.retrieve(OUTSIDER, "annual leave", ["demo"], k=3)
    with pytest.raises(NotFoundError, match="'ghost'"):
        demo_loaded.data.retrieve(OUTSIDER, "annual leave", ["demo", "ghost"], k=3)
    denied = [e for e in _entries(demo_loaded, size) if e["action"] == "data.retrieve"]
    assert [e["outcome"] for e in denied] == ["denied", "failure"]
    # Without naming collections, the caller still sees nothing rather than an error.
    assert demo_loaded.data.retrieve(OUTSIDER, "annual leave", None, k=3) == []
