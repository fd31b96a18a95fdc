"""Failed-authentication rate limiting that cannot lock out a valid key (sliding window).

Failures are counted twice: per client address and presented credential (a
fingerprint of the whole token, so a different key, or the right secret for the same
key ID, is another credential), and per address. The two budgets do different things:

* a credential that failed ``max_failures`` times from an address is refused there
  before any check (HTTP 429): a client stuck on a wrong key costs nothing more;
* an address over its budget gets 429 instead of 401 for every further *failure*, and
  those are no longer recorded one by one; its credentials are still checked, so a
  valid key is never answered 429 because of someone else's failures on a shared host
  (issue 15). Guessing gains nothing from that: a guess is checked either way, and a
  256-bit key secret is not guessable; the limit is there to bound what failures cost.

In memory, per process; each process of a cluster limits on its own. The clock is
injected (design rule 6) so tests need no sleeping.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from sovra.errors import RateLimitedError

_MAX_TRACKED = 100_000


@dataclass(frozen=True)
class FailureCount:
    """What one counted failure means: ``exhausted`` when it used up a budget (the
    moment to record that the limit applies), ``limited`` when it was over one already
    (answer 429, retry after ``retry_after_s``), and ``scope``, which budget."""

    exhausted: bool
    limited: bool
    scope: str  # "credential" or "address"
    retry_after_s: float


def credential_fingerprint(token: str) -> str:
    """What identifies a presented credential to the limiter: a digest of the whole
    token (never stored or logged), so a valid key never shares a count with a wrong
    one, even one with the same key ID."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()[:32]


class FailureLimiter:
    """Counts failures per (address, credential) and per address."""

    def __init__(self, max_failures: int = 10, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_failures
        self._window = window_s
        self._clock = clock
        self._failures: dict[tuple[str, str | None], deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: tuple[str, str | None], now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def _retry_after(self, stamps: deque[float], now: float) -> float:
        return max(0.0, stamps[0] + self._window - now) if stamps else 0.0

    def check(self, address: str, credential: str = "") -> None:
        """Raise ``RateLimitedError`` if ``credential`` from ``address`` is over its
        failure budget (other credentials from the address are not)."""
        with self._lock:
            now = self._clock()
            stamps = self._recent((address, credential), now)
            if len(stamps) >= self._max:
                raise RateLimitedError(
                    f"too many failed authentication attempts with this credential from "
                    f"{address}; fix the client's key, then retry later",
                    retry_after_s=self._retry_after(stamps, now))

    def record_failure(self, address: str, credential: str = "") -> FailureCount:
        """Count one failure of ``credential`` from ``address``."""
        with self._lock:
            now = self._clock()
            counts: list[tuple[str, deque[float]]] = []
            for scope, key in (("credential", (address, credential)),
                               ("address", (address, None))):
                if len(self._failures) >= _MAX_TRACKED and key not in self._failures:
                    self._failures.clear()  # bounded memory under address-spraying
                stamps = self._recent(key, now)
                stamps.append(now)
                self._failures[key] = stamps
                counts.append((scope, stamps))
            over = [(scope, s) for scope, s in counts if len(s) > self._max]
            if over:
                scope, stamps = over[0]
                return FailureCount(exhausted=False, limited=True, scope=scope,
                                    retry_after_s=self._retry_after(stamps, now))
            full = [scope for scope, s in counts if len(s) == self._max]
            return FailureCount(exhausted=bool(full), limited=False,
                                scope=full[0] if full else "", retry_after_s=0.0)


__all__ = ["FailureCount", "FailureLimiter", "credential_fingerprint"]
