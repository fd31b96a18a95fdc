"""Quotas and per-principal concurrency: refuse fast, never queue.

Issue 7: "Quotas per principal (requests and tokens per minute) and concurrency limits,
answering 429 with a retry hint; backpressure instead of collapse under load." Every
check here is O(1) and non-blocking: a request that cannot be served now is refused
with the time after which it could be, so latency stays bounded under overload (the
client's retry is the queue). The clock is injected (house style 6).

In the cluster profile the quotas are global (issue 22): each process still decides
from its own buckets, without a round trip, and ``sovra.ai.shared_quota`` charges every
bucket, about twice a second, with what the other processes admitted and used (through
a PostgreSQL table). ``usage_since_last`` and ``charge`` are that exchange; a lock makes
them safe against the loop's ``admit`` and ``release`` (uncontended, ~0.1 µs).

The instance-wide in-flight limit is not here: it is the door's (``sovra.ai.admission``,
one setting, one counter, ADR 0609), which counts a request from arrival to its last byte.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from sovra.errors import QuotaExceededError

Clock = Callable[[], float]


@dataclass(frozen=True)
class LimitSettings:
    requests_per_minute: int = 600
    tokens_per_minute: int = 200_000
    concurrent_per_principal: int = 64


class _Bucket:
    """A token bucket holding up to ``capacity`` that refills ``capacity`` per minute.

    It may go into debt (tokens are charged after the answer, when known); a bucket in
    debt refuses until it has refilled above zero.
    """

    __slots__ = ("capacity", "level", "stamp")

    def __init__(self, capacity: float, now: float) -> None:
        self.capacity = capacity
        self.level = capacity
        self.stamp = now

    def refill(self, now: float) -> None:
        elapsed = max(0.0, now - self.stamp)
        self.level = min(self.capacity, self.level + elapsed * self.capacity / 60.0)
        self.stamp = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` is available (0 when it is now)."""
        missing = amount - self.level
        return 0.0 if missing <= 0 else missing * 60.0 / self.capacity


@dataclass
class _Principal:
    requests: _Bucket
    tokens: _Bucket
    active: int = 0


class Slot:
    """One admitted request's place: ``release`` gives it back once (and charges the
    tokens the request used); a second call does nothing. Used as a context manager by
    whoever took it, so no path forgets it."""

    __slots__ = ("_limits", "_principal_id", "tokens")

    def __init__(self, limits: Limits, principal_id: str) -> None:
        self._limits: Limits | None = limits
        self._principal_id = principal_id
        self.tokens = 0

    def release(self) -> None:
        limits, self._limits = self._limits, None
        if limits is not None:
            limits.release(self._principal_id, self.tokens)

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.release()


class Limits:
    """Per-principal admission for the gateway; one per gateway, used from one loop
    (and from ``shared_quota``'s thread through ``usage_since_last`` and ``charge``)."""

    def __init__(self, settings: LimitSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._principals: dict[str, _Principal] = {}
        # What this process admitted and used since the last exchange (requests, tokens).
        self._used: dict[str, list[int]] = {}
        self._lock = threading.Lock()

    def active(self, principal_id: str) -> int:
        """Requests of ``principal_id`` holding a slot now."""
        found = self._principals.get(principal_id)
        return 0 if found is None else found.active

    def _principal(self, principal_id: str, now: float) -> _Principal:
        found = self._principals.get(principal_id)
        if found is None:
            found = _Principal(_Bucket(self.settings.requests_per_minute, now),
                               _Bucket(self.settings.tokens_per_minute, now))
            self._principals[principal_id] = found
        return found

    def slot(self, principal_id: str) -> Slot:
        """Take a slot or raise ``QuotaExceededError``: ``with limits.slot(p) as slot:``."""
        self.admit(principal_id)
        return Slot(self, principal_id)

    def admit(self, principal_id: str) -> None:
        """Take a slot or raise; pair every successful call with ``release`` (``slot``
        does, as a context manager)."""
        with self._lock:
            self._admit(principal_id)

    def _admit(self, principal_id: str) -> None:
        now = self._clock()
        state = self._principal(principal_id, now)
        if state.active >= self.settings.concurrent_per_principal:
            raise QuotaExceededError(
                f"{principal_id} has {state.active} requests in flight (limit "
                f"{self.settings.concurrent_per_principal})", retry_after_s=1.0)
        state.requests.refill(now)
        state.tokens.refill(now)
        wait = max(state.requests.wait_for(1.0), state.tokens.wait_for(1.0))
        if wait > 0:
            which = ("requests" if state.requests.wait_for(1.0) > 0 else "tokens")
            raise QuotaExceededError(
                f"{principal_id} exceeded its {which}-per-minute quota; retry in "
                f"{math.ceil(wait)} s", retry_after_s=max(1.0, wait))
        state.requests.level -= 1.0
        state.active += 1
        self._used.setdefault(principal_id, [0, 0])[0] += 1

    def release(self, principal_id: str, tokens: int) -> None:
        """Give the slot back and charge the tokens the request used."""
        with self._lock:
            state = self._principals.get(principal_id)
            if state is None:
                return
            state.active = max(0, state.active - 1)
            state.tokens.refill(self._clock())
            state.tokens.level -= tokens
            self._used.setdefault(principal_id, [0, 0])[1] += tokens

    def usage_since_last(self) -> dict[str, tuple[int, int]]:
        """(requests, tokens) each principal was admitted and used here since the
        previous call; the counts restart from zero."""
        with self._lock:
            used, self._used = self._used, {}
        return {principal: (r, t) for principal, (r, t) in used.items()}

    def give_back_usage(self, usage: dict[str, tuple[int, int]]) -> None:
        """Undo ``usage_since_last`` (the exchange failed; send it next time)."""
        with self._lock:
            for principal, (requests, tokens) in usage.items():
                counts = self._used.setdefault(principal, [0, 0])
                counts[0] += requests
                counts[1] += tokens

    def charge(self, principal_id: str, requests: int, tokens: int) -> None:
        """Charge what another process admitted (``requests``) and used (``tokens``)
        for ``principal_id`` to this process's buckets, as if admitted here."""
        with self._lock:
            now = self._clock()
            state = self._principal(principal_id, now)
            state.requests.refill(now)
            state.tokens.refill(now)
            state.requests.level -= requests
            state.tokens.level -= tokens
