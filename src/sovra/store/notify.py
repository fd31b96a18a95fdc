"""Cache invalidation across the processes of one database (the cluster profile).

Each process caches what it reads on every request (verified API keys and principals,
the active policy version, the model registry). A change committed by one process must
reach the others within a second (issue 22): the writer publishes a topic after its
commit, and every process drops or re-reads the caches subscribed to that topic.

On PostgreSQL a topic travels as ``NOTIFY sovra_changes, '<topic>'`` (delivered only to
sessions that ``LISTEN``, at the publisher's commit) and each process keeps one listening
connection in a daemon thread. If that connection is lost, notices sent meanwhile are
lost too, so on every (re)connect the listener calls every subscriber once: a cache may
be re-read needlessly, never kept stale. On SQLite there is one process per database and
each room already drops its own caches, so the feed is inert.

A notice carries a topic only: never an id, a name or any text of a request.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)

CHANNEL = "sovra_changes"
TOPICS = frozenset({"identity", "policy", "models", "lockbox"})
_POLL_S = 0.5  # how often the listener looks up from its wait to see if it must stop
_RETRY_S = 1.0  # pause before reconnecting a lost listening connection

Callback = Callable[[], None]


class ChangeFeed:
    """Publish and subscribe to change topics across the processes of one database."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._postgres = engine.dialect.name == "postgresql"
        self._subscribers: dict[str, list[Callback]] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._thread: threading.Thread | None = None

    def subscribe(self, topic: str, callback: Callback) -> None:
        """Call ``callback`` (in the listener thread) whenever ``topic`` changes."""
        _check_topic(topic)
        with self._lock:
            self._subscribers.setdefault(topic, []).append(callback)

    def publish(self, topic: str) -> None:
        """Tell the other processes that ``topic`` changed (after the change committed).

        Best effort by design: the change itself is committed and recorded already, and a
        lost notice costs freshness (the rooms' own refresh intervals still apply), not
        correctness, so a failure here is logged rather than undoing the operation.
        """
        _check_topic(topic)
        if not self._postgres:
            return
        try:
            with self._engine.begin() as conn:
                conn.execute(text("SELECT pg_notify(:channel, :topic)"),
                             {"channel": CHANNEL, "topic": topic})
        except SQLAlchemyError:
            log.exception("cannot publish the change of %s to other processes", topic)

    def start(self) -> None:
        """Start listening (PostgreSQL only); returns once the first LISTEN is in place,
        or after a few seconds if the database does not answer (the thread keeps trying)."""
        if not self._postgres or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="sovra-change-feed",
                                        daemon=True)
        self._thread.start()
        self._listening.wait(5.0)

    @property
    def listening(self) -> bool:
        """Whether the listening connection is up (always False on SQLite)."""
        return self._listening.is_set()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(_POLL_S * 4)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except Exception:  # the feed must outlive any one connection
                log.exception("change feed: the listening connection failed; reconnecting")
            self._listening.clear()
            self._stop.wait(_RETRY_S)

    def _listen(self) -> None:
        import psycopg  # only the cluster profile needs the driver's own connection

        url = self._engine.url.set(drivername="postgresql")
        with psycopg.connect(url.render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f"LISTEN {CHANNEL}")
            self._listening.set()
            self._deliver(None)  # anything published while we were not listening
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=_POLL_S):
                    self._deliver(notice.payload)

    def _deliver(self, topic: str | None) -> None:
        """Call the subscribers of ``topic``, or of every topic for ``None``."""
        with self._lock:
            if topic is None:
                callbacks = [c for group in self._subscribers.values() for c in group]
            else:
                callbacks = list(self._subscribers.get(topic, ()))
        for callback in callbacks:
            try:
                callback()
            except Exception:  # one room's failure must not stop the others' invalidation
                log.exception("change feed: a subscriber of %s failed", topic or "every topic")


def _check_topic(topic: str) -> None:
    if topic not in TOPICS:
        raise ValueError(f"unknown change topic {topic!r}; known: {sorted(TOPICS)}")
