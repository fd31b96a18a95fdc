"""Failed-authentication rate limiting per client address (sliding window).

In memory, per process: an attacker guessing keys against one process is slowed to
``max_failures`` guesses per ``window_s``; each process of a cluster limits on its own.
The clock is injected (design rule 6) so tests need no sleeping.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

from sovra.errors import RateLimitedError

_MAX_TRACKED = 100_000


class FailureLimiter:
    """Counts failures per address; refuses an address with too many in the window."""

    def __init__(self, max_failures: int = 10, window_s: float = 60.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._max = max_failures
        self._window = window_s
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, address: str, now: float) -> deque[float]:
        stamps = self._failures.get(address)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self._window:
            stamps.popleft()
        if not stamps:
            del self._failures[address]
        return stamps

    def check(self, address: str) -> None:
        """Raise ``RateLimitedError`` if ``address`` is over its failure budget."""
        with self._lock:
            now = self._clock()
            stamps = self._recent(address, now)
            if len(stamps) >= self._max:
                raise RateLimitedError(
                    f"too many failed authentication attempts from {address}; retry later",
                    retry_after_s=max(0.0, stamps[0] + self._window - now))

    def record_failure(self, address: str) -> bool:
        """Count one failure; return True when this failure exhausts the budget."""
        with self._lock:
            now = self._clock()
            if len(self._failures) >= _MAX_TRACKED and address not in self._failures:
                self._failures.clear()  # bounded memory under address-spraying
            stamps = self._recent(address, now)
            stamps.append(now)
            self._failures[address] = stamps
            return len(stamps) == self._max


__all__ = ["FailureLimiter"]
