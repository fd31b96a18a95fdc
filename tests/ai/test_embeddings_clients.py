"""Embeddings as OpenAI clients send them (issue 15): token-id arrays, which LangChain's
OpenAIEmbeddings sends by default, are refused with a message that says how to configure
it; ``dimensions`` the model cannot honour is refused, not silently ignored. Driven by the
official ``openai`` client against the real app."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import httpx
import openai

from sovra.ai.service import register_builtin_models
from sovra.api import create_app
from sovra.data.embed import Embedder
from sovra.identity import ensure_first_admin
from sovra.instance import Instance

Call = Callable[[openai.AsyncOpenAI, str], Awaitable[Any]]


def _with_client(instance: Instance, embedder: Embedder, calls: Sequence[Call]) -> list[Any]:
    instance.data.use_embedder(embedder)
    register_builtin_models(instance.ai)  # as `sovra up` does
    key = ensure_first_admin(instance)
    app = create_app(instance)

    async def go() -> list[Any]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sovra/v1",
                                     timeout=60) as http:
            client = openai.AsyncOpenAI(base_url="http://sovra/v1", api_key=key,
                                        http_client=http, max_retries=0)
            try:
                model = next(m.id for m in (await client.models.list()).data
                             if (m.model_extra or {})["sovra"]["kind"] == "embedding")
                return [await _outcome(call(client, model)) for call in calls]
            finally:
                await instance.ai.aclose()

    return asyncio.run(go())


async def _outcome(pending: Awaitable[Any]) -> Any:
    try:
        return await pending
    except openai.APIStatusError as exc:
        return exc


def test_token_id_arrays_are_refused_with_the_langchain_setting(
        unsealed: Instance, embedder: Embedder) -> None:
    single, batch, text = _with_client(unsealed, embedder, [
        lambda c, m: c.embeddings.create(model=m, input=[1820, 374, 264, 1296]),
        lambda c, m: c.embeddings.create(model=m, input=[[1820, 374], [264, 1296]]),
        lambda c, m: c.embeddings.create(model=m, input=["this is a test"]),
    ])
    for refused in (single, batch):
        assert isinstance(refused, openai.BadRequestError)
        assert "check_embedding_ctx_length=False" in refused.message
    assert not isinstance(text, Exception)
    assert len(text.data[0].embedding) == 384


def test_dimensions_are_honoured_or_refused(unsealed: Instance, embedder: Embedder) -> None:
    cut, same = _with_client(unsealed, embedder, [
        lambda c, m: c.embeddings.create(model=m, input="leave policy", dimensions=256),
        lambda c, m: c.embeddings.create(model=m, input="leave policy", dimensions=384),
    ])
    assert isinstance(cut, openai.BadRequestError)
    assert "384-dimensional" in cut.message and "256" in cut.message
    assert not isinstance(same, Exception)
    assert len(same.data[0].embedding) == 384
