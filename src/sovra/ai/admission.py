"""Admission at the door: shed load on /v1/ before it queues anywhere.

Issue 7: "Under overload, Sovra sheds load quickly with 429 or 503 rather than letting
latency grow without bound." A request waits in several queues before the gateway's
own limits see it (the accept backlog, the thread pool that runs the authorisation
dependency, the ledger's group commit). This ASGI middleware counts requests on the
OpenAI surface from the moment they arrive until their last body byte is sent (streams
included) and answers 503 with ``Retry-After`` at once when the count is at the limit,
so the requests it admits keep a bounded latency and the rest get a fast, honest answer.

This is the instance's one in-flight limit (``SOVRA_AI_MAX_IN_FLIGHT``, ADR 0609): the
``Door`` holding the count belongs to the gateway (``Gateway.door``), not to the
middleware or a module, so the gateway's own limits are per principal only and a test
or ``/metrics`` reads the same counter that sheds.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

_BODY = json.dumps({"error": {
    "message": "Sovra is at its admission limit; retry after the Retry-After delay",
    "type": "service_unavailable", "param": None, "code": "OverloadedError"}}).encode()


class Door:
    """The in-flight count and its limit; one per gateway, used from one event loop."""

    __slots__ = ("in_flight", "limit", "shed")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.in_flight = 0
        self.shed = 0

    def enter(self) -> bool:
        """Take a place, or count a shed request and say no."""
        if self.in_flight >= self.limit:
            self.shed += 1
            return False
        self.in_flight += 1
        return True

    def leave(self) -> None:
        self.in_flight -= 1


class AdmissionMiddleware:
    def __init__(self, app: ASGIApp, *, door: Door, prefix: str = "/v1/",
                 retry_after_s: int = 1) -> None:
        self.app = app
        self.door = door
        self.prefix = prefix
        self.retry_after = str(retry_after_s).encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        door = self.door
        if not door.enter():
            await _overloaded(send, self.retry_after)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            door.leave()


async def _overloaded(send: Send, retry_after: bytes) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", b"application/json"), (b"retry-after", retry_after),
        (b"content-length", str(len(_BODY)).encode())]
    start: dict[str, Any] = {"type": "http.response.start", "status": 503, "headers": headers}
    await send(start)
    await send({"type": "http.response.body", "body": _BODY})
