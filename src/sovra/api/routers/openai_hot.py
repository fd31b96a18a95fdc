"""``POST /v1/chat/completions``: the one chat edge (ADR 0609, after ADR 0606).

``serve_chat`` is the edge: authorise (``CHAT_AUTH.decide``: the deny recorded, the
allow left for the gateway to commit with the request's entry), parse and validate the
body in one pass from bytes (``model_validate_json``; a bad body recorded with the
decision, answered 400), then the one operation, ``Gateway.chat(caller, decision,
request)``, whose ``async with`` block the answer is sent in: the block owns the
caller's slot and the outcome record whatever happens to the answer (finished, streamed,
failed, or a stream whose body never started). Errors are rendered by the app's own
handlers (``render_error``).

It is reached two ways, both calling this same function: ``ChatHotPath``, an ASGI
middleware ahead of FastAPI's router (FastAPI's machinery around a route cost about as
much event-loop time as the governed work: docs/PERFORMANCE.md, "AI gateway"), and the
declared route in ``openai.py`` (OpenAPI, route protection, an app without the
middleware), whose handler hands the request here without FastAPI's dependency solving.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sovra.ai import AdmittedChat, Delta, Event, Gateway, wire
from sovra.api.auth import Caller, authorized
from sovra.api.errors import render_error, status_for
from sovra.api.validation import json_problems
from sovra.errors import InvalidInputError, SovraError

CHAT_PATH = "/v1/chat/completions"
# The chat route's door: its allow is committed in one batch with the request's ai.chat
# entry (ADR 0605). One instance, declared on the route in openai.py too.
CHAT_AUTH = authorized("models.use", "Model")


class ChatHotPath:
    """ASGI middleware answering ``POST /v1/chat/completions``; passes anything else on."""

    def __init__(self, app: ASGIApp, *, path: str = CHAT_PATH) -> None:
        self.app = app
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (scope["type"] != "http" or scope["path"] != self.path
                or scope["method"] != "POST"):
            await self.app(scope, receive, send)
            return
        await serve_chat(scope, receive, send)


async def serve_chat(scope: Scope, receive: Receive, send: Send) -> None:
    """The chat edge: the caller, its decision and the parsed request, handed to the
    one operation; the answer sent inside the operation's block."""
    request = Request(scope, receive, send)
    gateway: Gateway = request.app.state.instance.ai
    answering = False
    try:
        caller, fields = await CHAT_AUTH.decide(request)
        decision = Event.of_fields(fields)
        body = await _parsed(request, receive, gateway, caller, decision)
        try:
            wanted = body.to_domain(gateway.settings)
        except InvalidInputError as exc:
            # A body that parses but asks for nothing answerable (no user message, too
            # many tokens) is an invalid request like one that does not parse: recorded
            # the one way, with its decision, before the 400.
            await gateway.record_invalid(caller, decision, request.url.path, [str(exc)])
            raise
        async with gateway.chat(caller, decision, wanted) as chat:
            if not body.stream:
                result = await chat.complete()
                answering = True
                await send_completed(send, chat.request_id,
                                     wire.completion_body(chat.prepared, result))
                return
            async with aclosing(chat.stream()) as deltas:
                # The first delta before any byte: an upstream that is down has fallen
                # back by then (the stream names the model that answers), or is a clean
                # 503 like a complete answer's, not a 200 with an error inside (issue 17).
                first = await anext(deltas, None)
                answering = True
                await _streamed(chat, body, first, deltas)(scope, receive, send)
    except (SovraError, RequestValidationError) as exc:
        if answering:
            raise  # the answer has begun: nothing else can be sent on this request
        rendered = await render_error(request, exc)
        if rendered is None:  # pragma: no cover - both kinds have a renderer
            raise
        await rendered(scope, receive, send)


async def send_completed(send: Send, request_id: str, content: bytes) -> None:
    """Send a finished answer as a ``Response`` would (status, header names, values and
    order, body, in two ASGI messages), without building one and its header mapping."""
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"x-request-id", request_id.encode("latin-1")),
        (b"content-length", b"%d" % len(content)),
        (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": content})


def _streamed(chat: AdmittedChat, body: wire.ChatCompletionRequest, first: Delta | None,
              deltas: AsyncIterator[Delta]) -> StreamingResponse:
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(events(chat, first, deltas, include_usage=usage),
                             media_type="text/event-stream",
                             headers={"x-request-id": chat.request_id,
                                      "cache-control": "no-cache"})


async def events(chat: AdmittedChat, first: Delta | None, deltas: AsyncIterator[Delta], *,
                 include_usage: bool) -> AsyncIterator[bytes]:
    """The answer as OpenAI's server-sent events: ``data: {chunk}`` ... ``data: [DONE]``.
    ``first`` is the stream's first delta, taken before the answer began (``serve_chat``),
    ``deltas`` the rest of ``chat.stream()``."""
    prepared = chat.prepared  # after the first delta: the model that answers
    yield wire.chunk_event(prepared, {"role": "assistant", "content": ""}, None)
    parts: list[str] = []  # the answer, to cite only the passages it used (ADR 0610)
    try:
        async for delta in _chained(first, deltas):
            if delta.text:
                parts.append(delta.text)
                yield wire.chunk_event(prepared, {"content": delta.text}, None)
            if delta.finish_reason is not None:
                yield wire.chunk_event(prepared, {}, delta.finish_reason,
                                       extra=wire.sovra_extra(prepared, "".join(parts)))
                if include_usage:
                    yield wire.usage_event(prepared, delta.prompt_tokens or 0,
                                           delta.completion_tokens or 0)
    except SovraError as exc:
        # Headers are gone already: report in-band the way OpenAI clients read it.
        yield wire.error_event(type(exc).__name__, str(exc), status_for(exc))
        return
    yield wire.DONE_EVENT


async def _chained(first: Delta | None, rest: AsyncIterator[Delta]
                   ) -> AsyncIterator[Delta]:
    if first is None:
        return
    yield first
    async for delta in rest:
        yield delta


async def read_body(receive: Receive) -> bytes:
    """The request body from the ASGI messages, as ``Request.body`` reads it (a client
    that disconnects first raises ``ClientDisconnect``), without its stream generator."""
    message = await receive()
    if message["type"] == "http.request" and not message.get("more_body", False):
        body: bytes = message.get("body", b"")
        return body  # the usual case: one message
    chunks: list[bytes] = []
    while True:
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)
        message = await receive()


def invalid_problems(exc: RequestValidationError) -> list[str]:
    """What ``ai.request.invalid`` records: the first ten problems, location and message."""
    return [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
            for e in exc.errors()][:10]


async def _parsed(request: Request, receive: Receive, gateway: Gateway, caller: Caller,
                  decision: Event) -> wire.ChatCompletionRequest:
    raw = await read_body(receive)
    try:
        parsed = wire.ChatCompletionRequest.model_validate_json(raw)
    except ValidationError as exc:
        # FastAPI locates body errors under "body"; so do we, for the same messages.
        problem = RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)])
    else:
        # The app-wide edge check (RefuseHostileInput) does not run on this path: the
        # parser already refuses lone surrogates, and NUL can only arrive escaped, so
        # a byte search decides whether the body needs the walk (issue 13).
        if b"\\u0000" not in raw:
            return parsed
        hostile = json_problems(json.loads(raw))
        if not hostile:
            return parsed
        problem = RequestValidationError([
            {"type": "value_error", "loc": p.loc, "msg": p.message, "input": None}
            for p in hostile])
    await gateway.record_invalid(caller, decision, request.url.path,
                                 invalid_problems(problem))
    raise problem


__all__ = ["CHAT_AUTH", "CHAT_PATH", "ChatHotPath", "events", "invalid_problems",
           "read_body", "send_completed", "serve_chat"]
