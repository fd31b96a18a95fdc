"""Console sessions: a random id in a cookie, the credential kept server-side in memory.

The session holds the API key the person logged in with, never in the browser: every
page authenticates that key again through ``identity.authenticate`` (so a revoked key
ends the session at its next click) and asks policy exactly as the API does. Sessions
live in this process only: ``sovra up`` restarting logs everyone out, which is the safe
direction. Two clocks bound a session: idle time since the last page, and total age.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

Clock = Callable[[], float]

IDLE_TIMEOUT_S = 15 * 60.0
ABSOLUTE_TIMEOUT_S = 8 * 3600.0
# Beyond this many live sessions the oldest is dropped: memory stays bounded even if a
# script logs in in a loop (each login is still authenticated and rate limited).
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    """One logged-in browser. ``credential`` is the Authorization value (``Bearer`` and
    the API key, or the identity provider's ID token); ``csrf`` is the synchronizer
    token its forms carry."""

    id: str
    credential: str
    csrf: str
    created_at: float
    seen_at: float


class SessionStore:
    """Open, find (expiring on the way) and close sessions; thread-safe."""

    def __init__(self, *, idle_s: float = IDLE_TIMEOUT_S,
                 absolute_s: float = ABSOLUTE_TIMEOUT_S, clock: Clock = time.time) -> None:
        self.idle_s = idle_s
        self.absolute_s = absolute_s
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    def open(self, credential: str) -> Session:
        now = self._clock()
        session = Session(secrets.token_urlsafe(32), credential, secrets.token_urlsafe(32),
                          now, now)
        with self._lock:
            if len(self._sessions) >= MAX_SESSIONS:
                oldest = min(self._sessions.values(), key=lambda s: s.seen_at)
                del self._sessions[oldest.id]
            self._sessions[session.id] = session
        return session

    def find(self, session_id: str | None) -> Session | None:
        """The live session of that id (its idle clock restarted), or None if there is
        none or it expired (then it is forgotten)."""
        if not session_id:
            return None
        now = self._clock()
        with self._lock:
            found = self._sessions.get(session_id)
            if found is None:
                return None
            if now - found.seen_at > self.idle_s or now - found.created_at > self.absolute_s:
                del self._sessions[session_id]
                return None
            fresh = replace(found, seen_at=now)
            self._sessions[session_id] = fresh
            return fresh

    def close(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(session_id, None)


__all__ = ["ABSOLUTE_TIMEOUT_S", "IDLE_TIMEOUT_S", "Session", "SessionStore"]
