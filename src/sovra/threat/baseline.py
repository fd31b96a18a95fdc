"""Insider-threat baselines: each principal against its own history and its peers.

Per principal and day, over a rolling window (default 28 days before the day judged):
requests, documents retrieved, secret chunks retrieved, classification levels touched,
off-hours events, collections accessed for the first time, refused authorisations and
exports. A value departs when its robust z-score (Iglewicz and Hoaglin's modified
z-score: 0.6745 * (x - median) / MAD, alarm at 3.5) is high against the principal's own
days *and* against the same day of its peers (principals with the same roles). Robust
statistics, because one past incident must not make the next one look normal.

``score`` and ``judge`` are pure; ``daily_metrics`` is the one SQL aggregate.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text

METRICS = ("requests", "documents", "secret_chunks", "levels", "off_hours",
           "new_collections", "denied", "exports")
THRESHOLD = 3.5
MIN_HISTORY_DAYS = 7  # fewer active days than this: no baseline yet, nothing judged
MIN_PEERS = 3  # fewer peers than this: the peer test is skipped (said in the finding)
# Actors that are not people: the threat room itself, failed logins before identity.
IGNORED = ("anonymous", "sovra.threat", "system")


@dataclass(frozen=True)
class Score:
    median: float
    mad: float
    z: float


@dataclass(frozen=True)
class Departure:
    principal: str
    metric: str
    value: float
    own: Score
    peers: Score | None  # None: too few peers to compare with


def score(history: Sequence[float], value: float) -> Score:
    """The modified z-score of ``value`` against ``history`` (MAD floored at 0.5, so a
    perfectly regular history still needs a real jump to alarm)."""
    median = statistics.median(history) if history else 0.0
    mad = statistics.median(abs(x - median) for x in history) if history else 0.0
    return Score(median, mad, 0.6745 * (value - median) / max(mad, 0.5))


def judge(days: Mapping[str, Sequence[Mapping[str, float]]], roles: Mapping[str, str],
          threshold: float = THRESHOLD) -> list[Departure]:
    """``days[principal]`` lists its metric values per day, oldest first, the last being
    the day judged. Departures upward only: doing less is not a threat signal here."""
    today = {p: d[-1] for p, d in days.items() if d}
    out: list[Departure] = []
    for principal, series in sorted(days.items()):
        history = series[:-1]
        if sum(1 for day in history if day.get("requests", 0) > 0) < MIN_HISTORY_DAYS:
            continue
        peers = [p for p in today if p != principal and roles.get(p) == roles.get(principal)]
        for metric in METRICS:
            value = float(today[principal].get(metric, 0))
            own = score([float(d.get(metric, 0)) for d in history], value)
            if own.z < threshold:
                continue
            versus = (score([float(today[p].get(metric, 0)) for p in peers], value)
                      if len(peers) >= MIN_PEERS else None)
            if versus is None or versus.z >= threshold:
                out.append(Departure(principal, metric, value, own, versus))
    return out


def daily_metrics(conn: Connection, start: float, days: int,
                  off_hours: tuple[int, int] = (7, 20)
                  ) -> tuple[dict[str, list[dict[str, float]]], dict[str, str]]:
    """Each principal's metrics for ``days`` consecutive days from ``start`` (epoch s)."""
    bucket = ("CAST((ts - :start) / 86400 AS INTEGER)" if conn.dialect.name == "sqlite"
              else "CAST(FLOOR((ts - :start) / 86400) AS INTEGER)")
    params = {"start": start, "end": start + days * 86400.0, "early": off_hours[0],
              "late": off_hours[1], **{f"i{i}": name for i, name in enumerate(IGNORED)}}
    ignored = ", ".join(f":i{i}" for i in range(len(IGNORED)))
    rows = conn.execute(text(
        f"SELECT principal, {bucket} AS day, COUNT(*), "  # noqa: S608 - fixed SQL
        "SUM(CASE WHEN action = 'data.retrieve' THEN documents ELSE 0 END), "
        "SUM(CASE WHEN action = 'data.retrieve' AND classification = 'secret' "
        "THEN chunks ELSE 0 END), COUNT(DISTINCT classification), "
        "SUM(CASE WHEN hour < :early OR hour >= :late THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN outcome = 'denied' THEN 1 ELSE 0 END), "
        "SUM(CASE WHEN action LIKE '%export%' THEN 1 ELSE 0 END), MAX(role) "
        f"FROM threat_events WHERE ts >= :start AND ts < :end AND principal NOT IN ({ignored}) "
        "GROUP BY principal, day"), params).all()
    series: dict[str, list[dict[str, float]]] = defaultdict(
        lambda: [dict.fromkeys(METRICS, 0.0) for _ in range(days)])
    roles: dict[str, str] = {}
    for principal, day, *values, role in rows:
        slot = series[str(principal)][int(day)]
        for name, value in zip(("requests", "documents", "secret_chunks", "levels",
                                "off_hours", "denied", "exports"), values, strict=True):
            slot[name] = float(value or 0)
        roles[str(principal)] = str(role or "")
    firsts = conn.execute(text(
        f"SELECT principal, MIN(ts) FROM threat_events WHERE ts >= :start AND ts < :end "  # noqa: S608
        f"AND resource LIKE 'collection%' AND principal NOT IN ({ignored}) "
        "GROUP BY principal, resource"), params).all()
    for principal, first in firsts:
        series[str(principal)][int((float(first) - start) // 86400)]["new_collections"] += 1
    return dict(series), roles


__all__ = ["METRICS", "Departure", "Score", "daily_metrics", "judge", "score"]
