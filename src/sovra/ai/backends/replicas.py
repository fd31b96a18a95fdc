"""A pool of OpenAI-compatible servers (vLLM, llama.cpp's server, Ollama) serving one model.

The gateway sees one ``ChatBackend``; behind it, each request goes to one replica:

* **affinity**: requests whose rendered prompt shares its first ``affinity_chars``
  characters prefer the same replica, so its KV/prefix cache is reused (vLLM automatic
  prefix caching, llama.cpp slot reuse). The preferred replica is chosen by rendezvous
  hashing (highest random weight), so a replica leaving moves only its own prefixes;
* **least outstanding requests** otherwise, and also when the preferred replica is
  unhealthy or has ``affinity_margin`` more requests in flight than the least busy one
  (a hot prefix must not pile up on one GPU);
* **health**: a replica that refused, broke or timed out a connection is marked down at
  once, and a background probe (a TCP connect, or ``GET health_path``) brings it back;
* **failover**: a request that failed before anything was streamed to the caller is sent
  once more to another replica (generation has no side effect, so this is safe); one
  that already streamed text fails cleanly, since its caller holds half an answer.

The choice is a pure function (``choose``) returning a value with its reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from sovra.ai.backends.base import Completion
from sovra.ai.backends.http1 import (
    Http1Client,
    Timeouts,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from sovra.ai.backends.upstream import UpstreamBackend
from sovra.ai.models import ChatMessage, Delta, GenerationParams
from sovra.errors import UpstreamError

Reason = Literal["affinity", "least_outstanding", "affinity_unhealthy", "affinity_busy",
                 "no_healthy_replica"]
# Failures that say the replica itself is gone or broken (rather than the request being
# unacceptable): these mark it down until a probe says otherwise.
_REPLICA_FAULTS = (UpstreamConnectError, UpstreamProtocolError, UpstreamTimeoutError)


@dataclass(frozen=True)
class ReplicaView:
    """What the choice needs to know about one replica."""

    url: str
    healthy: bool
    outstanding: int
    served: int


@dataclass(frozen=True)
class Choice:
    index: int
    reason: Reason


@dataclass(frozen=True)
class PoolRules:
    affinity_chars: int = 256  # 0 turns affinity off
    affinity_margin: int = 2
    health_interval_s: float = 2.0
    probe_timeout_s: float = 2.0
    # None: the probe is a TCP connect. llama.cpp's Python server answers ``/v1/models``
    # only under the model lock, so an HTTP probe there queues behind generation (and was
    # seen to stall a concurrent request); vLLM and llama.cpp's C++ server answer
    # ``/health`` without it: set health_path to a path on the server's origin for those.
    health_path: str | None = None


def prefix_key(messages: Sequence[ChatMessage], chars: int) -> bytes | None:
    """The affinity key: the first ``chars`` characters of the rendered prompt."""
    if chars <= 0:
        return None
    rendered = "".join(f"<{m.role}>{m.content}\n" for m in messages)
    return rendered[:chars].encode()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _weight(key: bytes, url: str) -> bytes:
    return hashlib.blake2b(key + b"\0" + url.encode(), digest_size=8).digest()


def choose(replicas: Sequence[ReplicaView], key: bytes | None, *, margin: int,
           exclude: frozenset[int] = frozenset()) -> Choice | None:
    """Pick a replica, or None when every one is excluded."""
    candidates = [i for i in range(len(replicas)) if i not in exclude]
    if not candidates:
        return None
    healthy = [i for i in candidates if replicas[i].healthy]
    # With none marked healthy, try them anyway: the marks may be older than a recovery,
    # and refusing outright would turn a blip into an outage until the next probe.
    pool = healthy or candidates
    least = min(pool, key=lambda i: (replicas[i].outstanding, replicas[i].served, i))
    if not healthy:
        return Choice(least, "no_healthy_replica")
    if key is None:
        return Choice(least, "least_outstanding")
    preferred = max(candidates, key=lambda i: _weight(key, replicas[i].url))
    if not replicas[preferred].healthy:
        return Choice(least, "affinity_unhealthy")
    if replicas[preferred].outstanding > replicas[least].outstanding + margin:
        return Choice(least, "affinity_busy")
    return Choice(preferred, "affinity")


@dataclass
class _Replica:
    url: str
    backend: UpstreamBackend
    probe: Http1Client
    healthy: bool = True
    outstanding: int = 0
    served: int = 0
    failures: int = 0
    last_reason: str = field(default="")

    def view(self) -> ReplicaView:
        return ReplicaView(self.url, self.healthy, self.outstanding, self.served)


class ReplicaPool:
    """One model served by several OpenAI-compatible servers (a ``ChatBackend``)."""

    def __init__(self, urls: Sequence[str], upstream_model: str, *,
                 timeouts: Timeouts | None = None, rules: PoolRules | None = None) -> None:
        if not urls:
            raise UpstreamError("a model pool needs at least one upstream URL")
        self.rules = rules or PoolRules()
        probe_timeouts = Timeouts(connect_s=self.rules.probe_timeout_s,
                                  read_s=self.rules.probe_timeout_s)
        self._replicas = [
            _Replica(url, UpstreamBackend(Http1Client(url, timeouts=timeouts), upstream_model,
                                          retries=0),  # the pool fails over instead
                     Http1Client(_origin(url), timeouts=probe_timeouts, max_idle=1))
            for url in dict.fromkeys(urls)]  # the same server listed twice is one replica
        self._prober: asyncio.Task[None] | None = None

    def views(self) -> list[ReplicaView]:
        return [r.view() for r in self._replicas]

    def _pick(self, key: bytes | None, tried: frozenset[int]) -> tuple[int, _Replica] | None:
        found = choose(self.views(), key, margin=self.rules.affinity_margin, exclude=tried)
        if found is None:
            return None
        replica = self._replicas[found.index]
        replica.last_reason = found.reason
        return found.index, replica

    def _failed(self, replica: _Replica, exc: UpstreamError) -> None:
        replica.failures += 1
        if isinstance(exc.__cause__, _REPLICA_FAULTS):
            replica.healthy = False

    def _start_prober(self) -> None:
        if self._prober is None or self._prober.done():
            self._prober = asyncio.create_task(self._probe_forever())

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.rules.health_interval_s)
            await self.check_health()

    async def check_health(self) -> list[bool]:
        """Probe every replica once (``GET /models``) and record the answers."""
        results = await asyncio.gather(*(self._probe(r) for r in self._replicas))
        for replica, ok in zip(self._replicas, results, strict=True):
            replica.healthy = ok
        return list(results)

    async def _probe(self, replica: _Replica) -> bool:
        client = replica.probe
        try:
            if self.rules.health_path is None:
                async with asyncio.timeout(self.rules.probe_timeout_s):
                    _, writer = await asyncio.open_connection(client.host, client.port)
                writer.close()
                return True
            response = await client.get(self.rules.health_path)
            await response.read()
        except (UpstreamConnectError, UpstreamProtocolError, UpstreamTimeoutError, OSError):
            return False
        return response.status < 400

    async def complete(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        self._start_prober()
        key = prefix_key(messages, self.rules.affinity_chars)
        tried: frozenset[int] = frozenset()
        last: UpstreamError | None = None
        for _ in range(2):  # the first choice, then once more elsewhere
            picked = self._pick(key, tried)
            if picked is None:
                break
            index, replica = picked
            tried |= {index}
            replica.outstanding += 1
            try:
                done = await replica.backend.complete(messages, params)
            except UpstreamError as exc:
                self._failed(replica, exc)
                last = exc
                continue
            finally:
                replica.outstanding -= 1
            replica.served += 1
            return done
        raise UpstreamError(f"no replica of the model pool answered: {last}") from last

    async def stream(self, messages: Sequence[ChatMessage],
                     params: GenerationParams) -> AsyncGenerator[Delta, None]:
        self._start_prober()
        key = prefix_key(messages, self.rules.affinity_chars)
        tried: frozenset[int] = frozenset()
        last: UpstreamError | None = None
        for _ in range(2):
            picked = self._pick(key, tried)
            if picked is None:
                break
            index, replica = picked
            tried |= {index}
            replica.outstanding += 1
            streamed = False
            try:
                async with contextlib.aclosing(replica.backend.stream(messages, params)) as it:
                    async for delta in it:
                        streamed = True
                        yield delta
            except UpstreamError as exc:
                self._failed(replica, exc)
                if streamed:  # the caller holds part of an answer: never splice another
                    raise
                last = exc
                continue
            finally:
                replica.outstanding -= 1
            replica.served += 1
            return
        raise UpstreamError(f"no replica of the model pool answered: {last}") from last

    async def aclose(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
            self._prober = None
        for replica in self._replicas:
            await replica.backend.aclose()
            await replica.probe.aclose()
