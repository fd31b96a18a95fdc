"""Admission at the door: over the limit, /v1/ answers 503 at once; others pass. The
door is the instance's one in-flight limit (ADR 0609): the gateway's, read by the app."""

from __future__ import annotations

import asyncio

import httpx
from starlette.types import Receive, Scope, Send

from sovra.ai.admission import AdmissionMiddleware, Door
from sovra.api import create_app
from sovra.identity import ensure_first_admin
from sovra.instance import Instance


async def run() -> tuple[list[int], int, int, int]:
    release = asyncio.Event()

    async def slow_app(scope: Scope, receive: Receive, send: Send) -> None:
        await release.wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    door = Door(2)
    transport = httpx.ASGITransport(app=AdmissionMiddleware(slow_app, door=door))
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
    assert door.shed == 1
    return statuses, shed.status_code, after.status_code, door.in_flight


def test_sheds_over_the_limit_and_recovers() -> None:
    statuses, shed, after, in_flight = asyncio.run(run())
    assert statuses == [200, 200]
    assert shed == 503
    assert after == 200
    assert in_flight == 0


def test_the_app_sheds_at_the_gateways_door(unsealed: Instance) -> None:
    key = ensure_first_admin(unsealed)
    door = unsealed.ai.door
    assert door.limit == unsealed.ai.settings.max_in_flight  # the one setting

    async def models() -> int:
        transport = httpx.ASGITransport(app=create_app(unsealed))
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
            return answer.status_code

    for _ in range(door.limit):
        assert door.enter()  # as many requests in flight as the setting allows
    try:
        assert asyncio.run(models()) == 503
    finally:
        for _ in range(door.limit):
            door.leave()
    assert asyncio.run(models()) == 200
    assert door.in_flight == 0
