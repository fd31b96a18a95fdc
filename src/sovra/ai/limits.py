"""Quotas and per-principal concurrency: refuse fast, never queue.

Issue 7: "Quotas per principal (requests and tokens per minute) and concurrency limits,
answering 429 with a retry hint; backpressure instead of collapse under load." Every
check here is O(1) and non-blocking: a request that cannot be served now is refused
with the time after which it could be, so latency stays bounded under overload (the
client's retry is the queue). The clock is injected (house style 6).

The instance-wide in-flight limit is not here: it is the door's (``sovra.ai.admission``,
one setting, one counter, ADR 0609), which counts a request from arrival to its last byte.
"""

from __future__ import annotations

import math
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
    """Per-principal admission for the gateway; one per gateway, used from one loop."""

    def __init__(self, settings: LimitSettings, clock: Clock = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._principals: dict[str, _Principal] = {}

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

    def release(self, principal_id: str, tokens: int) -> None:
        """Give the slot back and charge the tokens the request used."""
        state = self._principals.get(principal_id)
        if state is None:
            return
        state.active = max(0, state.active - 1)
        state.tokens.refill(self._clock())
        state.tokens.level -= tokens
