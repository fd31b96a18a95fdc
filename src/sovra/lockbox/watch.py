"""Watching a grant live (as Microsoft's Data Guardian does): approvers see every decision
made under a supervised grant as it happens, and may end it mid-session.

In memory, in the process that serves the grant: a watch lasts as long as the watcher's
connection (``GET /lockbox/grants/{id}/events``). A supervised grant is usable only while
a watch is open in the process deciding (fail closed: another process sees no watcher
and refuses).
"""

from __future__ import annotations

import contextlib
import queue
import threading
from dataclasses import dataclass, field

_QUEUE_MAX = 1000


@dataclass(frozen=True)
class WatchEvent:
    kind: str  # "decision" | "ended"
    data: dict[str, object] = field(default_factory=dict)


class Watch:
    """One watcher's stream of events for one grant."""

    def __init__(self, hub: WatchHub, grant_id: str, watcher: str) -> None:
        self.grant_id = grant_id
        self.watcher = watcher
        self._hub = hub
        self._events: queue.Queue[WatchEvent] = queue.Queue(_QUEUE_MAX)

    def put(self, event: WatchEvent) -> None:
        # A watcher that stopped reading loses events; the grant goes on.
        with contextlib.suppress(queue.Full):
            self._events.put_nowait(event)

    def get(self, timeout: float) -> WatchEvent | None:
        try:
            return self._events.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._hub.leave(self)


class WatchHub:
    """Open watches by grant id (thread-safe)."""

    def __init__(self) -> None:
        self._watches: dict[str, set[Watch]] = {}
        self._lock = threading.Lock()

    def join(self, grant_id: str, watcher: str) -> Watch:
        watch = Watch(self, grant_id, watcher)
        with self._lock:
            self._watches.setdefault(grant_id, set()).add(watch)
        return watch

    def leave(self, watch: Watch) -> None:
        with self._lock:
            found = self._watches.get(watch.grant_id)
            if found is not None:
                found.discard(watch)
                if not found:
                    del self._watches[watch.grant_id]

    def watchers(self, grant_id: str) -> tuple[str, ...]:
        with self._lock:
            return tuple(sorted({w.watcher for w in self._watches.get(grant_id, ())}))

    def publish(self, grant_id: str, event: WatchEvent) -> None:
        with self._lock:
            targets = list(self._watches.get(grant_id, ()))
        for watch in targets:
            watch.put(event)


__all__ = ["Watch", "WatchEvent", "WatchHub"]
