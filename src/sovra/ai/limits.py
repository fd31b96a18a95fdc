"""Quotas, per-principal concurrency and global admission: refuse fast, never queue.

Issue 7: "Quotas per principal (requests and tokens per minute) and concurrency limits,
answering 429 with a retry hint; backpressure instead of collapse under load." Every
check here is O(1) and non-blocking: a request that cannot be served now is refused
with the time after which it could be, so latency stays bounded under overload (the
client's retry is the queue). The clock is injected (house style 6).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from sovra.errors import OverloadedError, QuotaExceededError

Clock = Callable[[], float]


@dataclass(frozen=True)
class LimitSettings:
    requests_per_minute: int = 600
    tokens_per_minute: int = 200_000
    concurrent_per_principal: int = 64
    max_in_flight: int = 256


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


class Limits:
    """Admission control for the gateway; one instance per process, used from one loop."""

    def __init__(self, settings: LimitSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._principals: dict[str, _Principal] = {}
        self.in_flight = 0

    def _principal(self, principal_id: str, now: float) -> _Principal:
        found = self._principals.get(principal_id)
        if found is None:
            found = _Principal(_Bucket(self.settings.requests_per_minute, now),
                               _Bucket(self.settings.tokens_per_minute, now))
            self._principals[principal_id] = found
        return found

    def admit(self, principal_id: str) -> None:
        """Take a slot or raise; pair every successful call with ``release``."""
        if self.in_flight >= self.settings.max_in_flight:
            raise OverloadedError(
                f"gateway at its admission limit ({self.settings.max_in_flight} requests "
                "in flight); retry shortly", retry_after_s=1.0)
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
        self.in_flight += 1

    def release(self, principal_id: str, tokens: int) -> None:
        """Give the slot back and charge the tokens the request used."""
        self.in_flight = max(0, self.in_flight - 1)
        state = self._principals.get(principal_id)
        if state is None:
            return
        state.active = max(0, state.active - 1)
        state.tokens.refill(self._clock())
        state.tokens.level -= tokens
