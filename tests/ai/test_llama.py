"""The in-process llama.cpp backend with the bundled model: one instance, serialised."""

from __future__ import annotations

import asyncio

from sovra.ai.backends.llama import LlamaCppBackend
from sovra.ai.builtin import smollm2_path
from sovra.ai.models import ChatMessage, Delta, GenerationParams

GREEDY = GenerationParams(max_tokens=8, temperature=0.0, seed=0)
ASK = (ChatMessage("user", "Name three colours."),)


async def run() -> tuple[list[list[Delta]], str, int]:
    backend = LlamaCppBackend(str(smollm2_path()), n_ctx=512, n_threads=2)
    try:
        async def streamed() -> list[Delta]:
            return [d async for d in backend.stream(ASK, GREEDY)]

        # Three requests at once share one model instance; the worker thread runs them
        # one after the other (llama.cpp contexts are not thread-safe), and each gets a
        # complete, well-formed stream.
        streams = await asyncio.gather(streamed(), streamed(), streamed())
        whole = await backend.complete(ASK, GREEDY)
        # A consumer that stops early stops generation (the client went away).
        stream = backend.stream(ASK, GenerationParams(max_tokens=200, temperature=0.0))
        first = await anext(stream)
        await stream.aclose()
        after = await backend.complete(ASK, GREEDY)  # the model is free again
        assert first.text
        return list(streams), whole.text, after.usage.completion_tokens
    finally:
        await backend.aclose()


def test_concurrent_requests_are_serialised_and_stoppable() -> None:
    streams, whole, after_tokens = asyncio.run(run())
    for deltas in streams:
        *pieces, last = deltas
        assert pieces and all(d.text and d.finish_reason is None for d in pieces)
        assert last.finish_reason in ("stop", "length")
        assert last.completion_tokens == len(pieces) <= 8
        assert (last.prompt_tokens or 0) > 0
    assert whole
    assert 0 < after_tokens <= 8
