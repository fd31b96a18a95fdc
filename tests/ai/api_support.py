"""Drive the real API app in process (ASGI) for the gateway tests: keys, chats, traces."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx

from sovra.api import create_app
from sovra.instance import Instance

T = TypeVar("T")
QUESTION = "How many days of annual leave do full-time staff receive?"


def key_for(instance: Instance, principal_id: str, *, roles: tuple[str, ...] = (),
            clearance: str = "public", create: bool = True) -> str:
    """An API key for ``principal_id``, creating the principal first when asked."""
    if create:
        instance.identity.create_principal("system", principal_id, roles=list(roles),
                                           clearance=clearance)
    return instance.identity.create_api_key("system", principal_id).token


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def with_api(instance: Instance, calls: Callable[[httpx.AsyncClient], Awaitable[T]]) -> T:
    """Run ``calls`` against the instance's app; the gateway is closed afterwards."""
    app = create_app(instance)

    async def go() -> T:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sovra",
                                     timeout=60) as client:
            try:
                return await calls(client)
            finally:
                await instance.ai.aclose()

    return asyncio.run(go())


def chat_body(content: str, collections: tuple[str, ...] = ()) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "fake-instant", "max_tokens": 16,
                            "messages": [{"role": "user", "content": content}]}
    if collections:
        body["sovra"] = {"collections": list(collections), "top_k": 3}
    return body


async def chat(client: httpx.AsyncClient, key: str, content: str,
               collections: tuple[str, ...] = ()) -> str:
    """Ask through ``POST /v1/chat/completions``; the request id of the 200 answer."""
    answered = await client.post("/v1/chat/completions", headers=bearer(key),
                                 json=chat_body(content, collections))
    assert answered.status_code == 200, answered.text
    return str(answered.json()["id"])


async def keep_text(client: httpx.AsyncClient, key: str, collection: str) -> None:
    done = await client.put(f"/v1/sovra/collections/{collection}/ai-policy",
                            headers=bearer(key), json={"keep_text": True})
    assert done.status_code == 200, done.text
