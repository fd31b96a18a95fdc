"""ADR 0609 (after ADR 0606): ``POST /v1/chat/completions`` is served by one edge,
``openai_hot.serve_chat``, reached two ways: the hot-path middleware ahead of FastAPI's
router, and the declared route (an app without the middleware). Both must answer and
record exactly alike.

Each case goes through two apps over the same instance: the app as ``create_app`` builds
it (the hot path serves the route) and the same app without the hot path (FastAPI's
router hands the declared route to the same edge). Status, OpenAI error type and code,
response shape and the ledger entries written must match, a body that is not JSON at
all included (it is answered after authorisation both ways, its decision recorded).
And whoever admits a request releases it: a stream whose body never starts still gives
its slot back and records its outcome.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from starlette.requests import ClientDisconnect

from sovra.ai import wire
from sovra.api import create_app
from sovra.api.routers.openai_hot import ChatHotPath, read_body
from sovra.identity import ensure_first_admin
from sovra.instance import Instance
from tests.ai.conftest import approved_upstream
from tests.e2e.fake_upstream import FakeUpstream

CHAT = {"model": "fake-instant", "max_tokens": 8,
        "messages": [{"role": "user", "content": "Ping?"}]}
Outcome = tuple[int, Any, list[tuple[str, str]]]


def _declared(instance: Instance) -> FastAPI:
    """The app with the hot path taken out: FastAPI serves the declared route."""
    app = create_app(instance)
    before = len(app.user_middleware)
    app.user_middleware = [m for m in app.user_middleware if m.cls is not ChatHotPath]
    assert len(app.user_middleware) == before - 1
    return app


def _since(instance: Instance, size: int) -> list[tuple[str, str]]:
    rows = instance.ledger.tail(instance.ledger.size - size)
    return [(e["action"], e["outcome"]) for e in (json.loads(r.body) for r in rows)]


def _call(instance: Instance, loop: asyncio.AbstractEventLoop, app: FastAPI,
          headers: dict[str, str], content: bytes) -> Outcome:
    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post("/v1/chat/completions", content=content,
                                     headers={"content-type": "application/json",
                                              **headers})

    size = instance.ledger.size
    response = loop.run_until_complete(go())
    if response.headers["content-type"].startswith("text/event-stream"):
        body: Any = [line for line in response.text.split("\n\n") if line]
    else:
        body = response.json()
    return response.status_code, body, _since(instance, size)


def _shape(body: Any) -> Any:
    """What must match between the two: error type and code, or the answer's shape."""
    if isinstance(body, list):  # SSE events
        return [event if event == "data: [DONE]" else sorted(json.loads(event[6:]))
                for event in body]
    if "error" in body:
        return body["error"]["type"], body["error"]["code"]
    return sorted(body), body["object"], body["choices"][0]["message"]["content"]


@pytest.fixture
def both(unsealed: Instance, fake_upstream: FakeUpstream
         ) -> Iterator[tuple[Instance, str, Callable[..., tuple[Outcome, Outcome]]]]:
    approved_upstream(unsealed, fake_upstream.port)
    key = ensure_first_admin(unsealed)
    assert key is not None
    hot, declared = create_app(unsealed), _declared(unsealed)
    # One loop for every request: the gateway pools upstream connections on it.
    loop = asyncio.new_event_loop()

    def run(content: bytes, headers: dict[str, str] | None = None
            ) -> tuple[Outcome, Outcome]:
        sent = {"Authorization": f"Bearer {key}"} if headers is None else headers
        return (_call(unsealed, loop, hot, sent, content),
                _call(unsealed, loop, declared, sent, content))

    try:
        yield unsealed, key, run
    finally:
        loop.run_until_complete(unsealed.ai.aclose())
        loop.close()


CASES: dict[str, tuple[dict[str, Any], int]] = {
    "answered": (CHAT, 200),
    "streamed": ({**CHAT, "stream": True, "stream_options": {"include_usage": True}}, 200),
    "unknown model": ({**CHAT, "model": "no-such-model"}, 404),
    "no user message": ({**CHAT, "messages": [{"role": "system", "content": "x"}]}, 400),
    "wrong role": ({**CHAT, "messages": [{"role": "wizard", "content": "x"}]}, 400),
    "max_tokens over the limit": ({**CHAT, "max_tokens": 10**9}, 400),
    "n above one": ({**CHAT, "n": 2}, 400),
    "oversized prompt": ({**CHAT, "messages": [{"role": "user", "content": "y" * 300_000}]},
                         400),
    "extra fields ignored": ({**CHAT, "user": "u-1", "logprobs": False}, 200),
    "content parts": ({**CHAT, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "Ping?"}]}]}, 200),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_hot_path_answers_and_records_like_the_declared_route(case: str, both: Any) -> None:
    _instance, _key, run = both
    body, status = CASES[case]
    (h_status, h_body, h_entries), (d_status, d_body, d_entries) = run(
        json.dumps(body).encode())
    assert h_status == d_status == status
    assert _shape(h_body) == _shape(d_body)
    assert h_entries == d_entries
    if status >= 400:
        assert h_body["error"]["message"] == d_body["error"]["message"]
    else:
        assert h_entries[0] == ("policy.decision", "allowed")


def test_credentials_and_denials_match(both: Any) -> None:
    instance, _key, run = both
    instance.identity.create_principal("test", "ops", roles=["operator"], clearance="secret")
    operator = instance.identity.create_api_key("test", "ops").token
    for headers, status, entries in (
            ({}, 401, []),
            ({"Authorization": "Bearer sk-sovra-not-a-key"}, 401, None),
            ({"Authorization": f"Bearer {operator}"}, 403, [("policy.decision", "denied")])):
        hot, declared = run(json.dumps(CHAT).encode(), headers)
        assert hot[0] == declared[0] == status
        assert hot[1] == declared[1]  # the same error body, message included
        assert hot[2] == declared[2]
        if entries is not None:
            assert hot[2] == entries


def test_non_json_body_is_400_and_recorded_after_authorisation_both_ways(both: Any
                                                                         ) -> None:
    _instance, _key, run = both
    hot, declared = run(b'{"model": ')
    assert hot[0] == declared[0] == 400
    assert _shape(hot[1]) == _shape(declared[1]) == ("invalid_request_error",
                                                     "InvalidInputError")
    assert hot[2] == declared[2] == [("policy.decision", "allowed"),
                                     ("ai.request.invalid", "failure")]
    anonymous, _ = run(b'{"model": ', {})
    assert anonymous[0] == 401 and anonymous[2] == []  # nothing answered before auth


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 10**6) | st.floats(-1, 3)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=3),
    max_leaves=8)
_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "system", "assistant", "developer", "tool", 1]),
     "content": st.one_of(st.text(max_size=12), st.none(), st.integers(),
                          st.lists(st.fixed_dictionaries(
                              {"type": st.sampled_from(["text", "image_url"]),
                               "text": st.text(max_size=5)}), max_size=2))})
_BODY = st.fixed_dictionaries(
    {"model": st.sampled_from(["fake-instant", "", "nope", 7])},
    optional={"messages": st.lists(_MESSAGE, max_size=3) | _JSON,
              "stream": st.sampled_from([False, "false", 0, None, "yes"]),
              "max_tokens": st.sampled_from([1, 8, 0, -1, "8", 2.0, 2.5, None]),
              "temperature": st.sampled_from([0, 0.5, 2.5, "hot", None]),
              "top_p": st.sampled_from([0, 0.5, 1, None]),
              "stop": st.sampled_from(["x", ["a", "b"], [1], None]),
              "n": st.sampled_from([1, 2, None]),
              "sovra": st.sampled_from([None, {}, {"citations": False}, {"top_k": 0},
                                        {"unknown": 1}]),
              "extra": _JSON})


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=_BODY)
def test_any_body_gets_the_same_answer_both_ways(both: Any, body: dict[str, Any]) -> None:
    _instance, _key, run = both
    hot, declared = run(json.dumps(body).encode())
    assert hot[0] == declared[0]
    assert _shape(hot[1]) == _shape(declared[1])
    assert hot[2] == declared[2]


@settings(max_examples=300, deadline=None)
@given(body=_BODY | _JSON)
def test_parsing_from_bytes_equals_parsing_the_decoded_json(body: Any) -> None:
    """What the hot path does (one pass from bytes) against what FastAPI does
    (``json.loads``, then validation of the value): same result, same error places."""
    raw = json.dumps(body).encode()
    try:
        slow: Any = wire.ChatCompletionRequest.model_validate(json.loads(raw))
    except ValidationError as exc:
        slow = sorted((e["loc"], e["type"]) for e in exc.errors())
    try:
        fast: Any = wire.ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as exc:
        fast = sorted((e["loc"], e["type"]) for e in exc.errors())
    assert fast == slow


def _asgi_messages(loop: asyncio.AbstractEventLoop, app: FastAPI, key: str,
                   chunks: list[bytes], *, refuse_send: bool = False
                   ) -> list[dict[str, Any]]:
    """Drive the app with raw ASGI messages (the body in ``chunks``); what it sends
    (``refuse_send``: the client is gone, every send fails)."""
    incoming = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
                for i, c in enumerate(chunks)]
    sent: list[dict[str, Any]] = []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
             "raw_path": b"/v1/chat/completions", "query_string": b"", "root_path": "",
             "headers": [(b"content-type", b"application/json"),
                         (b"authorization", f"Bearer {key}".encode())],
             "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000), "state": {}}

    async def receive() -> dict[str, Any]:
        if incoming:
            return incoming.pop(0)
        await asyncio.sleep(3600)  # pragma: no cover - nothing reads past the body
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        if refuse_send:
            raise OSError("connection reset by peer")
        sent.append(dict(message))

    loop.run_until_complete(app(scope, receive, send))
    return sent


@pytest.mark.parametrize("split", [1, 3])
def test_answer_is_sent_as_the_declared_response_sends_it(both: Any, split: int) -> None:
    """``send_completed`` and ``read_body``: the same ASGI messages, status, header
    names, order and values (but the request id), and body as the declared route's
    ``Response``, for a body in one message or in several."""
    instance, key, _run = both
    raw = json.dumps(CHAT).encode()
    step = -(-len(raw) // split)
    chunks = [raw[i:i + step] for i in range(0, len(raw), step)]
    loop = asyncio.new_event_loop()
    try:
        hot = _asgi_messages(loop, create_app(instance), key, chunks)
        declared = _asgi_messages(loop, _declared(instance), key, chunks)
        loop.run_until_complete(instance.ai.aclose())
    finally:
        loop.close()
    assert [m["type"] for m in hot] == [m["type"] for m in declared] == [
        "http.response.start", "http.response.body"]
    assert hot[0]["status"] == declared[0]["status"] == 200
    assert set(hot[1]) == set(declared[1])  # no more_body key on either
    h_headers, d_headers = hot[0]["headers"], declared[0]["headers"]
    assert [n for n, _ in h_headers] == [n for n, _ in d_headers] == [
        b"x-request-id", b"content-length", b"content-type"]
    assert h_headers[1:] != [] and h_headers[2] == d_headers[2]
    h_body, d_body = json.loads(hot[1]["body"]), json.loads(declared[1]["body"])
    assert h_headers[0][1].decode() == h_body["id"] != d_body["id"]
    assert int(h_headers[1][1]) == len(hot[1]["body"])
    for body in (h_body, d_body):
        del body["id"], body["created"], body["sovra"]["request_id"]
    assert h_body == d_body


def test_read_body_raises_when_the_client_leaves_midway() -> None:
    messages: list[dict[str, Any]] = [
                {"type": "http.request", "body": b"{", "more_body": True},
                {"type": "http.disconnect"}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    with pytest.raises(ClientDisconnect):
        asyncio.run(read_body(receive))


@pytest.mark.parametrize("declared", [False, True])
def test_a_stream_whose_response_never_starts_gives_its_slot_back(
        both: Any, fake_upstream: FakeUpstream, declared: bool) -> None:
    """The client is gone before the stream's first byte: its response never starts,
    yet the caller's slot is released and the outcome recorded (ADR 0609). The model
    did start: the edge awaits the first delta before it answers, so that an upstream
    found down can still fall back or be a clean 503 (issue 17)."""
    instance, key, _run = both
    app = _declared(instance) if declared else create_app(instance)
    size, before = instance.ledger.size, fake_upstream.requests
    loop = asyncio.new_event_loop()
    try:
        with pytest.raises((OSError, ClientDisconnect)):
            _asgi_messages(loop, app, key, [json.dumps({**CHAT, "stream": True}).encode()],
                           refuse_send=True)
        loop.run_until_complete(instance.ai.aclose())
    finally:
        loop.close()
    assert instance.ai.limits.active("admin") == 0
    assert instance.ai.door.in_flight == 0
    assert fake_upstream.requests == before + 1  # up to its first delta, once
    entries = [json.loads(r.body) for r in instance.ledger.tail(instance.ledger.size - size)]
    assert [(e["action"], e["outcome"]) for e in entries] == [
        ("policy.decision", "allowed"), ("ai.chat", "allowed"),
        ("ai.chat.outcome", "failure")]
    assert entries[-1]["details"]["reason"] == "client disconnected"
    assert entries[-1]["actor"] == "admin"  # whose slot was checked above
