"""The OpenAI-compatible upstream backend against a FakeUpstream on loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest

from sovra.ai.backends.http1 import Http1Client, Timeouts
from sovra.ai.backends.upstream import UpstreamBackend
from sovra.ai.models import ChatMessage, Delta, GenerationParams
from sovra.errors import UpstreamError
from tests.e2e.fake_upstream import ANSWER, FakeUpstream, running_fake_upstream

MESSAGES = (ChatMessage("user", "hi"),)
PARAMS = GenerationParams(max_tokens=16)


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as server:
        yield server


def _backend(port: int, model: str, *, read_s: float = 5.0, retries: int = 2
             ) -> UpstreamBackend:
    client = Http1Client(f"http://127.0.0.1:{port}/v1",
                         timeouts=Timeouts(connect_s=1.0, read_s=read_s))
    return UpstreamBackend(client, model, retries=retries, backoff_s=0.01)


async def _complete(port: int, model: str, *, read_s: float = 5.0, retries: int = 2,
                    times: int = 1) -> str:
    backend = _backend(port, model, read_s=read_s, retries=retries)
    try:
        texts = [(await backend.complete(MESSAGES, PARAMS)).text for _ in range(times)]
        return texts[-1]
    finally:
        await backend.aclose()


async def _stream(port: int, model: str) -> list[Delta]:
    backend = _backend(port, model)
    try:
        return [d async for d in backend.stream(MESSAGES, PARAMS)]
    finally:
        await backend.aclose()


def test_complete_reuses_one_connection(fake: FakeUpstream) -> None:
    before = fake.connections
    assert asyncio.run(_complete(fake.port, "fake-instant", times=5)) == ANSWER
    assert fake.connections - before == 1  # keep-alive: five requests, one connection


def test_stream_passes_tokens_through(fake: FakeUpstream) -> None:
    deltas = asyncio.run(_stream(fake.port, "fake-instant"))
    assert "".join(d.text for d in deltas).strip() == ANSWER
    assert deltas[-1].finish_reason == "stop"


def test_retries_hide_a_transient_503(fake: FakeUpstream) -> None:
    before = fake.requests
    assert asyncio.run(_complete(fake.port, "fake-flaky")) == ANSWER
    assert fake.requests - before in (1, 2)


def test_503_without_retries_is_an_upstream_error(fake: FakeUpstream) -> None:
    # Two calls without retries: one of them meets the 503.
    with pytest.raises(UpstreamError, match="503"):
        for _ in range(2):
            asyncio.run(_complete(fake.port, "fake-flaky", retries=0))


def test_garbage_is_an_upstream_error(fake: FakeUpstream) -> None:
    with pytest.raises(UpstreamError, match="malformed"):
        asyncio.run(_complete(fake.port, "fake-garbage"))
    with pytest.raises(UpstreamError, match="malformed"):
        asyncio.run(_complete(fake.port, "fake-not-http"))


def test_garbage_stream_is_an_upstream_error(fake: FakeUpstream) -> None:
    with pytest.raises(UpstreamError, match="malformed"):
        asyncio.run(_stream(fake.port, "fake-garbage"))


def test_hanging_upstream_times_out(fake: FakeUpstream) -> None:
    with pytest.raises(UpstreamError, match="timed out"):
        asyncio.run(_complete(fake.port, "fake-hang", read_s=0.3))


def test_unreachable_upstream_is_reported_after_retries() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, not listening: connections are refused
        with pytest.raises(UpstreamError, match="unreachable"):
            asyncio.run(_complete(port, "fake-instant"))
