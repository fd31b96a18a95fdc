"""Admission at the door: over the limit, /v1/ answers 503 at once; others pass."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from sovra.ai.admission import AdmissionMiddleware


async def run() -> tuple[list[int], int, int, int]:
    release = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    door = AdmissionMiddleware(slow_app, limit=2)
    transport = httpx.ASGITransport(app=door)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        held = [asyncio.create_task(client.post("/v1/chat/completions")) for _ in range(2)]
        await asyncio.sleep(0.05)
        shed = await client.post("/v1/chat/completions")  # answered while two wait
        other = asyncio.create_task(client.get("/healthz"))  # not on /v1/: not counted
        await asyncio.sleep(0.05)
        release.set()
        statuses = [r.status_code for r in await asyncio.gather(*held)]
        await other
        after = await client.post("/v1/chat/completions")
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "OverloadedError"
    return statuses, shed.status_code, after.status_code, door.in_flight


def test_sheds_over_the_limit_and_recovers() -> None:
    statuses, shed, after, in_flight = asyncio.run(run())
    assert statuses == [200, 200]
    assert shed == 503
    assert after == 200
    assert in_flight == 0
