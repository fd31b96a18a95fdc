"""The OpenAI router in-process (ASGI): bad input is answered in OpenAI's format and
recorded in the ledger for an authenticated caller."""

from __future__ import annotations

import asyncio
import json

import httpx

from sovra.api import create_app
from sovra.identity import ensure_first_admin
from sovra.instance import Instance


def test_invalid_bodies_are_400_and_recorded(unsealed: Instance) -> None:
    key = ensure_first_admin(unsealed)
    app = create_app(unsealed)

    async def go() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            headers = {"Authorization": f"Bearer {key}"}
            shapes = await client.post("/v1/chat/completions", headers=headers, json={
                "model": "m", "messages": [{"role": "wizard", "content": "hi"}]})
            broken = await client.post("/v1/chat/completions", headers={
                **headers, "content-type": "application/json"}, content=b'{"model": ')
            anonymous = await client.post("/v1/chat/completions", json={"model": 1})
            return [shapes, broken, anonymous]

    size = unsealed.ledger.size
    shapes, broken, anonymous = asyncio.run(go())
    assert (shapes.status_code, broken.status_code) == (400, 400)
    assert shapes.json()["error"]["type"] == "invalid_request_error"
    assert anonymous.status_code in (400, 401)
    entries = [json.loads(r.body) for r in unsealed.ledger.tail(unsealed.ledger.size - size)]
    invalid = [e for e in entries if e["action"] == "ai.request.invalid"]
    assert len(invalid) == 2  # the two authenticated ones; the anonymous one is not
    assert all(e["actor"] == "admin" and e["outcome"] == "failure" for e in invalid)
    assert any("role" in p for p in invalid[0]["details"]["problems"])
