"""Global quotas across the processes of a cluster (issue 22, ADR 2203).

Each process admits from its own token buckets (``sovra.ai.limits``: no round trip on
the chat path). Every ``interval_s`` a thread exchanges usage through one PostgreSQL
table of cumulative counters, ``ai_quota_usage``: it adds what this process admitted
and used since the last exchange, reads every row touched in the last two minutes, and
charges this process's buckets with the *other* processes' increments (a row's growth
since the last read, less this process's own share of it). So every process's bucket
for a principal tracks the whole cluster's consumption, about ``interval_s`` late: a
principal can overshoot a quota by what the processes admit in that interval, no more.

The first exchange reads every row as the baseline, so a (re)started process does not
charge what was used before it started (it forgives at most the last minute); a row
that appears later was created after it started and is charged from zero. On SQLite
there is one process by design (ADR 0405), and the exchange does not run. If the
database is unreachable the usage is kept and sent with the next exchange; admission
goes on from the local buckets (per process, as before), rather than refusing every
request.
"""

from __future__ import annotations

import logging
import threading

from sqlalchemy import Engine, text

from sovra.ai.limits import Limits

log = logging.getLogger(__name__)

_WINDOW_S = 120.0  # rows touched this recently are read: a minute's quota and slack

_UPSERT = text("""
INSERT INTO ai_quota_usage (principal_id, requests, tokens, updated_at)
SELECT u.principal_id, u.requests, u.tokens, extract(epoch FROM clock_timestamp())
FROM unnest(CAST(:ids AS text[]), CAST(:requests AS bigint[]), CAST(:tokens AS bigint[]))
     AS u(principal_id, requests, tokens)
ON CONFLICT (principal_id) DO UPDATE
SET requests = ai_quota_usage.requests + EXCLUDED.requests,
    tokens = ai_quota_usage.tokens + EXCLUDED.tokens,
    updated_at = EXCLUDED.updated_at
""")
_RECENT = text("""
SELECT principal_id, requests, tokens FROM ai_quota_usage
WHERE updated_at > extract(epoch FROM clock_timestamp()) - :window
""")
_ALL = text("SELECT principal_id, requests, tokens FROM ai_quota_usage")


class SharedQuotas:
    """The exchange for one process's ``Limits``; ``start`` and ``close`` it once."""

    def __init__(self, engine: Engine, limits: Limits, interval_s: float = 0.5) -> None:
        self._engine = engine
        self._limits = limits
        self._interval_s = interval_s
        self._seen: dict[str, tuple[int, int]] = {}
        self._primed = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def enabled(self) -> bool:
        return self._engine.dialect.name == "postgresql"

    def start(self) -> None:
        """Take the baseline now, before this process serves (a usage another process
        sends after this is charged here), then exchange in a thread."""
        if not self.enabled or self._thread is not None:
            return
        self.exchange()
        self._thread = threading.Thread(target=self._run, name="sovra-shared-quota",
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        if self.enabled:
            self.exchange()  # the last usage, so the other processes still count it

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.exchange()

    def exchange(self) -> None:
        """Send this process's usage, charge the others'. Never raises: a failed
        exchange keeps the usage for the next one."""
        own = self._limits.usage_since_last()
        try:
            with self._engine.begin() as conn:
                if own:
                    ids = sorted(own)
                    conn.execute(_UPSERT, {"ids": ids,
                                           "requests": [own[i][0] for i in ids],
                                           "tokens": [own[i][1] for i in ids]})
                rows = (conn.execute(_RECENT, {"window": _WINDOW_S}).all() if self._primed
                        else conn.execute(_ALL).all())
        except Exception:  # the exchange must outlive any one database failure
            self._limits.give_back_usage(own)
            log.warning("shared quota exchange failed; quotas are per process until it "
                        "succeeds", exc_info=True)
            return
        primed, self._primed = self._primed, True
        for principal, requests, tokens in rows:
            now = (int(requests), int(tokens))
            last = self._seen.get(principal, (0, 0))
            self._seen[principal] = now
            if not primed:
                continue
            mine = own.get(principal, (0, 0))
            others = (now[0] - last[0] - mine[0], now[1] - last[1] - mine[1])
            if others[0] > 0 or others[1] > 0:
                self._limits.charge(principal, max(0, others[0]), max(0, others[1]))


__all__ = ["SharedQuotas"]
