"""A pool of model servers: the choice rules, then three real llama.cpp servers on loopback.

The servers are ``python -m llama_cpp.server`` processes serving the bundled SmolLM2 GGUF;
what each one served is read from its own access log (uvicorn writes one line per
request), never from the pool's bookkeeping, so balancing, affinity and failover are
asserted from the servers' side.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sovra.ai.backends.http1 import Timeouts
from sovra.ai.backends.pool import BackendPool
from sovra.ai.backends.replicas import PoolRules, ReplicaPool, ReplicaView, choose, prefix_key
from sovra.ai.builtin import smollm2_path
from sovra.ai.models import ChatMessage, GenerationParams, ModelRecord, ModelSpec
from sovra.ai.settings import AISettings
from sovra.errors import UpstreamError
from tests.e2e.fake_upstream import ANSWER, FakeUpstream

PARAMS = GenerationParams(max_tokens=2, temperature=0.0)
TIMEOUTS = Timeouts(connect_s=2.0, read_s=30.0)
ALIAS = "smollm2"


def _views(*outstanding: int, down: tuple[int, ...] = ()) -> list[ReplicaView]:
    return [ReplicaView(f"http://10.0.0.{i}:8000/v1", i not in down, n, 0)
            for i, n in enumerate(outstanding)]


def _preferred(key: bytes, n: int) -> int:
    found = choose(_views(*([0] * n)), key, margin=2)
    assert found is not None and found.reason == "affinity"
    return found.index


# -- the choice, pure ----------------------------------------------------------------


def test_least_outstanding_without_affinity() -> None:
    found = choose(_views(3, 1, 2), None, margin=2)
    assert found is not None and (found.index, found.reason) == (1, "least_outstanding")


def test_same_prefix_same_replica_and_prefixes_spread() -> None:
    prompts = [f"system prompt number {i} " * 20 for i in range(30)]
    keys = [prefix_key((ChatMessage("system", p), ChatMessage("user", "q")), 64)
            for p in prompts]
    chosen = [_preferred(k or b"", 3) for k in keys]
    again = [_preferred(k or b"", 3) for k in keys]
    assert chosen == again
    assert set(chosen) == {0, 1, 2}  # thirty prefixes do not all hash to one server


def test_prefix_key_ignores_what_follows_the_prefix() -> None:
    system = ChatMessage("system", "You answer for the ministry. " * 20)
    a = prefix_key((system, ChatMessage("user", "first question")), 128)
    b = prefix_key((system, ChatMessage("user", "another question")), 128)
    assert a == b and prefix_key((system,), 0) is None


def test_unhealthy_or_busy_preferred_falls_back_to_least_outstanding() -> None:
    key = b"a shared prefix"
    preferred = _preferred(key, 3)
    other = (preferred + 1) % 3
    down = choose(_views(0, 0, 0, down=(preferred,)), key, margin=2)
    assert down is not None and down.reason == "affinity_unhealthy"
    assert down.index != preferred
    load = [5, 5, 5]
    load[preferred], load[other] = 4, 1
    busy = choose(_views(*load), key, margin=2)
    assert busy is not None and (busy.index, busy.reason) == (other, "affinity_busy")
    load[preferred] = 3  # within the margin of the least busy: affinity holds
    kept = choose(_views(*load), key, margin=2)
    assert kept is not None and (kept.index, kept.reason) == (preferred, "affinity")


def test_excluded_replicas_are_never_chosen() -> None:
    found = choose(_views(0, 9, 9), None, margin=2, exclude=frozenset({0}))
    assert found is not None and found.index in (1, 2)
    assert choose(_views(0, 0), None, margin=2, exclude=frozenset({0, 1})) is None
    nobody_healthy = choose(_views(2, 1, down=(0, 1)), None, margin=2)
    assert nobody_healthy is not None and nobody_healthy.reason == "no_healthy_replica"


# -- failover against a dead port and the FakeUpstream (fast, no model) --------------------


def _dead_url() -> str:
    return f"http://127.0.0.1:{_free_port()}/v1"  # bound, then closed: connection refused


def test_stream_fails_over_before_anything_was_streamed(fake_upstream: FakeUpstream) -> None:
    live = f"http://127.0.0.1:{fake_upstream.port}/v1"

    async def run() -> tuple[str, list[ReplicaView]]:
        # The dead server is listed first: with nothing in flight, it is chosen first.
        pool = ReplicaPool([_dead_url(), live], "fake-instant", timeouts=TIMEOUTS,
                           rules=PoolRules(affinity_chars=0))
        try:
            text = "".join([d.text async for d in pool.stream(_ask("hi"), PARAMS)])
            return text, pool.views()
        finally:
            await pool.aclose()

    text, views = asyncio.run(run())
    assert text.strip() == ANSWER
    assert [v.healthy for v in views] == [False, True]
    assert [v.served for v in views] == [0, 1]


def test_every_replica_dead_is_a_clean_upstream_error() -> None:
    async def run() -> None:
        pool = ReplicaPool([_dead_url(), _dead_url()], "m", timeouts=TIMEOUTS)
        try:
            await pool.complete(_ask("hi"), PARAMS)
        finally:
            await pool.aclose()

    with pytest.raises(UpstreamError, match="no replica of the model pool answered"):
        asyncio.run(run())


def test_a_stream_that_broke_after_text_is_not_spliced(fake_upstream: FakeUpstream) -> None:
    chunk = (b'data: {"choices": [{"index": 0, "delta": {"content": "half "},'
             b' "finish_reason": null}]}\n\n')

    async def breaks_off(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n"
                     b"connection: close\r\n\r\n" + chunk)
        await writer.drain()
        writer.close()  # dies mid-answer: no finish reason, no [DONE]

    async def run() -> tuple[list[str], int]:
        server = await asyncio.start_server(breaks_off, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = ReplicaPool([f"http://127.0.0.1:{port}/v1",
                            f"http://127.0.0.1:{fake_upstream.port}/v1"], "fake-instant",
                           timeouts=TIMEOUTS, rules=PoolRules(affinity_chars=0))
        before = fake_upstream.requests
        got: list[str] = []
        try:
            with pytest.raises(UpstreamError):
                async for delta in pool.stream(_ask("hi"), PARAMS):
                    got.append(delta.text)
            return got, fake_upstream.requests - before
        finally:
            await pool.aclose()
            server.close()

    got, sent_elsewhere = asyncio.run(run())
    assert got == ["half "]  # the caller saw part of an answer ...
    assert sent_elsewhere == 0  # ... so nothing was sent to another server


# -- three real llama.cpp servers ----------------------------------------------------------


@dataclass
class Server:
    port: int
    log: Path
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def served(self) -> int:
        text = self.log.read_text(errors="replace")
        return text.count('"POST /v1/chat/completions HTTP/1.1" 200')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_ready(server: Server, deadline: float) -> None:
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"llama_cpp.server exited: {server.log.read_text()[-2000:]}")
        try:
            with socket.create_connection(("127.0.0.1", server.port), timeout=0.5):
                if "Uvicorn running" in server.log.read_text(errors="replace"):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"llama_cpp.server on {server.port} did not start")


@pytest.fixture(scope="module")
def servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Server]]:
    pytest.importorskip("sse_starlette", reason="pip install -e '.[test]' (llama_cpp.server)")
    model = smollm2_path()
    root = tmp_path_factory.mktemp("llama-servers")
    started: list[Server] = []
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        for i in range(3):
            port = _free_port()
            log = root / f"server{i}.log"
            with log.open("wb") as out:
                process = subprocess.Popen(
                    [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
                     "--model_alias", ALIAS, "--host", "127.0.0.1", "--port", str(port),
                     "--n_ctx", "512", "--n_threads", "1"],
                    stdout=out, stderr=subprocess.STDOUT, env=env)
            started.append(Server(port, log, process))
        deadline = time.monotonic() + 120
        for server in started:
            _wait_ready(server, deadline)
        yield started
    finally:
        for server in started:
            if server.process.poll() is None:
                server.process.send_signal(signal.SIGTERM)
        for server in started:
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()


def _pool(servers: list[Server], *, affinity_chars: int) -> ReplicaPool:
    return ReplicaPool([s.url for s in servers], ALIAS, timeouts=TIMEOUTS,
                       rules=PoolRules(affinity_chars=affinity_chars, health_interval_s=0.5))


def _ask(text: str) -> tuple[ChatMessage, ...]:
    return (ChatMessage("user", text),)


def test_concurrent_requests_spread_by_least_outstanding(servers: list[Server]) -> None:
    before = [s.served() for s in servers]

    async def run() -> None:
        pool = _pool(servers, affinity_chars=0)
        try:
            for round_ in range(2):  # three in flight at once, twice
                answers = await asyncio.gather(
                    *(pool.complete(_ask(f"Say a number {round_}{i}"), PARAMS)
                      for i in range(3)))
                assert all(a.usage.completion_tokens >= 1 for a in answers)
        finally:
            await pool.aclose()

    asyncio.run(run())
    # Three requests in flight at once over three idle servers: one each, each time.
    # (At most one request per server at a time: llama_cpp.server serialises generation,
    # and a second request queued behind the model lock was seen to stall under load.)
    assert [s.served() - b for s, b in zip(servers, before, strict=True)] == [2, 2, 2]


def test_requests_sharing_a_prefix_go_to_one_server(servers: list[Server]) -> None:
    prefixes = [f"Context {i}: " + "the archive holds letters. " * 4 for i in range(3)]

    async def run(prefix: str) -> list[int]:
        pool = _pool(servers, affinity_chars=64)
        before = [s.served() for s in servers]
        try:
            for q in ("one", "two", "three"):  # one at a time: never busier by the margin
                await pool.complete(_ask(prefix + q), PARAMS)
        finally:
            await pool.aclose()
        return [s.served() - b for s, b in zip(servers, before, strict=True)]

    for prefix in prefixes:
        counts = asyncio.run(run(prefix))
        assert sorted(counts) == [0, 0, 3], counts


def test_backend_pool_builds_a_pool_from_settings(servers: list[Server]) -> None:
    settings = AISettings(upstream_replicas={ALIAS: [s.url for s in servers[1:]]})
    spec = ModelSpec(model_id=ALIAS, kind="chat", locality="on_premises", sha256="ab" * 32,
                     source="llama_cpp.server on loopback", licence="Apache-2.0",
                     ceiling="internal", upstream_url=servers[0].url)
    record = ModelRecord(spec, approved=True, registered_by="alice", approved_by="bob",
                         created_at=0.0)

    async def run() -> list[str]:
        backends = BackendPool(settings)
        try:
            backend = await backends.backend(record)
            assert isinstance(backend, ReplicaPool)
            assert [v.url for v in backend.views()] == [s.url for s in servers]
            return [d.text async for d in backend.stream(_ask("Hello"), PARAMS)]
        finally:
            await backends.aclose()

    assert "".join(asyncio.run(run()))


def test_killed_server_fails_over_and_later_requests_succeed(servers: list[Server]) -> None:
    victim = servers[2]
    survivors = servers[:2]
    killed = asyncio.Event()

    async def worker(pool: ReplicaPool, name: str) -> list[bool]:
        after_kill = []
        for i in range(5):
            was_killed = killed.is_set()
            try:
                await pool.complete(_ask(f"{name} says {i}"), PARAMS)
                ok = True
            except UpstreamError:
                ok = False  # allowed only for a request in flight at the kill
            if was_killed:
                after_kill.append(ok)
        return after_kill

    async def killer(pool: ReplicaPool) -> None:
        for _ in range(6000):  # kill the victim mid-request (bounded: at most a minute)
            if pool.views()[2].outstanding:
                break
            await asyncio.sleep(0.01)
        victim.process.kill()
        killed.set()

    async def run() -> list[list[bool]]:
        # Two workers over three servers: the victim's retry lands on an idle survivor.
        pool = _pool(servers, affinity_chars=0)
        try:
            results = await asyncio.gather(worker(pool, "a"), worker(pool, "b"), killer(pool))
            assert not pool.views()[2].healthy
            return [results[0], results[1]]
        finally:
            await pool.aclose()

    before = sum(s.served() for s in survivors)
    after_kill = asyncio.run(run())
    victim.process.wait(timeout=10)
    later = [ok for worker_results in after_kill for ok in worker_results]
    assert later and all(later)  # every request sent after the kill succeeded
    # All ten requests were answered by the survivors except what the victim finished
    # before it died (at most its one request in flight, which was instead retried).
    assert sum(s.served() for s in survivors) - before >= 9
