"""``POST /v1/chat/completions`` served before FastAPI's router: the hot path (ADR 0606).

Per request, FastAPI's machinery around the chat route (its middleware layers, the
included-router dispatch, dependency solving, body parsing then validation, the route
wrapper) cost about as much event-loop time as the governed work itself
(docs/PERFORMANCE.md, "AI gateway"). This ASGI middleware serves exactly that operation
by calling the pieces the declared route is made of, in the same order:

1. the route's own ``Authorized`` dependency (``openai.CHAT_AUTH``): authentication, the
   Cedar decision, the deny record and 401/403, the deferred allow (ADR 0605);
2. the body, parsed and validated in one pass from bytes by the same pydantic model
   (``model_validate_json``); a bad body is recorded (``ai.request.invalid``) and
   answered 400 like the declared route does;
3. the declared route's operation (``openai.chat_answer``, which the endpoint function
   calls too): governance, the ledger entries, the upstream call, the answer; a
   finished answer is sent as the same two ASGI messages the route's ``Response``
   sends (``send_completed``), the body read straight from ``receive`` (``read_body``);
4. any decision still pending is recorded before the answer leaves (``record_deferred``),
   and errors are rendered by the app's own handlers (``render_error``).

Nothing here decides, records or governs by itself. The declared route stays in the
app: it documents the operation in OpenAPI, the route-protection test checks its
dependency, and tests/ai/test_hot_path.py sends the same requests through both and
compares status, body shape and ledger entries.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response, StreamingResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from sovra.ai import wire
from sovra.api.auth import record_deferred
from sovra.api.errors import render_error
from sovra.api.routers.openai import CHAT_AUTH, CompletedChat, chat_answer, invalid_problems
from sovra.api.validation import json_problems
from sovra.errors import SovraError

CHAT_PATH = "/v1/chat/completions"


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
        request = Request(scope, receive, send)
        answer: CompletedChat | Response
        try:
            answer = await serve_chat(request, receive)
        except (SovraError, RequestValidationError) as exc:
            rendered = await render_error(request, exc)
            if rendered is None:  # pragma: no cover - both kinds have a renderer
                raise
            answer = rendered
        if isinstance(answer, CompletedChat):
            await send_completed(send, answer)
        else:
            await answer(scope, receive, send)


async def send_completed(send: Send, answer: CompletedChat) -> None:
    """Send a finished answer as the declared route's ``Response`` would: the same
    status, header list (names, values, order) and body, in the same two ASGI messages,
    without building a Response and its header mapping per request."""
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"x-request-id", answer.request_id.encode("latin-1")),
        (b"content-length", b"%d" % len(answer.content)),
        (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": answer.content})


async def serve_chat(request: Request, receive: Receive
                     ) -> CompletedChat | StreamingResponse:
    """Authorise, parse, run the declared operation; record a pending decision before
    any answer (success or error) leaves, as the declared route's class does."""
    caller = await CHAT_AUTH(request, None)
    try:
        body = await _parsed(request, receive, caller)
        answer = await chat_answer(body, caller, request)
    except BaseException:
        await record_deferred(request)
        raise
    await record_deferred(request)
    return answer


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


async def _parsed(request: Request, receive: Receive, caller: Any
                  ) -> wire.ChatCompletionRequest:
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
    await record_deferred(request)
    await request.app.state.instance.ai.record_invalid(caller, request.url.path,
                                                       invalid_problems(problem))
    raise problem


__all__ = ["CHAT_PATH", "ChatHotPath", "read_body", "send_completed", "serve_chat"]
