"""Issue 14: the routes' decision memo is owned by the app built around an instance, not
by the module-level ``Authorized`` objects every app shares; it is keyed by the action
too, and starts afresh when the active policy set changes."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from sovra.api import create_app
from sovra.api.auth import Authorized, DecisionMemo
from sovra.api.routers.openai_hot import CHAT_AUTH
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Decision, Resource

ALICE = Caller("alice", "user", frozenset({"admin"}), "secret")


def _models(app: FastAPI, key: str) -> int:
    async def go() -> int:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            answer = await client.get("/v1/models", headers={"Authorization": f"Bearer {key}"})
            return answer.status_code
    return asyncio.run(go())


def test_each_app_owns_its_memo_and_the_routes_hold_none(instance: Instance,
                                                         admin_key: str) -> None:
    key = admin_key
    first, second = create_app(instance), create_app(instance)
    assert _models(first, key) == 200
    assert len(first.state.decisions) == 1
    assert len(second.state.decisions) == 0  # nothing shared through the module
    assert not any(isinstance(v, dict) for v in vars(CHAT_AUTH).values())
    assert isinstance(CHAT_AUTH, Authorized)


def test_the_memo_is_keyed_by_action_and_forgets_a_replaced_policy_set(
        instance: Instance) -> None:
    memo = DecisionMemo()
    active, replaced = object(), object()
    allow = instance.policy.decide(ALICE, "models.use", Resource("Model", "*"),
                                   {"client_ip": "t"})
    assert isinstance(allow, Decision) and allow.allowed
    use = ("models.use", "Model", ALICE, "*", "t")
    memo.put(active, use, allow)
    assert memo.get(active, use) is allow
    assert memo.get(active, ("models.register", "Model", ALICE, "*", "t")) is None
    assert memo.get(replaced, use) is None  # another compiled set: decided anew
    memo.put(replaced, use, allow)
    assert len(memo) == 1  # the old set's decisions are gone

