"""Running compiled rules incrementally over the events in ``[lo, hi)``.

Single-event rules are one indexed query each. Correlations read the events of the new
range plus one timespan before it, so a window that began before the range still counts,
and report only rows inside the range: each event is judged once by each rule. A rule
that fails at run time is reported and the others still run.
"""

from __future__ import annotations

import re
from collections import defaultdict, deque
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, text
from sqlalchemy.exc import SQLAlchemyError

from sovra.threat.sigma import CorrelationRule, RuleProblem, SingleRule

# Matches kept per alert: enough to triage, bounded so one noisy rule cannot bloat rows.
MAX_EVENTS_PER_MATCH = 200


@dataclass(frozen=True)
class Match:
    """A rule fired for one group: the events that raised it."""

    rule_id: str
    title: str
    severity: str
    group: tuple[tuple[str, str], ...]
    seqs: tuple[int, ...]
    first_ts: float
    last_ts: float


def run_singles(conn: Connection, rules: Sequence[SingleRule], lo: int, hi: int,
                problems: list[RuleProblem]) -> list[Match]:
    """Every standalone rule over ``[lo, hi)``: one query per action the rules name.

    Most rules fix the action (``"action"='x' AND ...``); those are grouped by it, and
    each group is one index range read of that action's new events evaluating the
    group's rules together, so each event is read once, not once per rule (measured in
    benchmarks/threat_sigma_pass.py). A group that fails at run time is retried rule by
    rule, so one bad rule is reported and the others still run.
    """
    groups: dict[str | None, list[tuple[SingleRule, str]]] = defaultdict(list)
    for rule in rules:
        if rule.standalone:
            action, rest = split_action(rule.where)
            groups[action].append((rule, rest))
    out: list[Match] = []
    for action, members in groups.items():
        try:
            out += _run_group(conn, action, members, lo, hi)
        except SQLAlchemyError:
            for member in members:
                try:
                    out += _run_group(conn, action, [member], lo, hi)
                except SQLAlchemyError as exc:
                    problems.append(RuleProblem("pack", member[0].title,
                                                f"failed to run: {exc}"))
    return out


def _run_group(conn: Connection, action: str | None, members: list[tuple[SingleRule, str]],
               lo: int, hi: int) -> list[Match]:
    flags = ", ".join(f"CASE WHEN ({rest}) THEN 1 ELSE 0 END" for _, rest in members)
    either = " OR ".join(f"({rest})" for _, rest in members)
    scope = '"action" = :action AND ' if action is not None else ""
    # In a savepoint: on PostgreSQL a failed statement aborts the whole transaction,
    # and every rule after it would fail too.
    with conn.begin_nested():
        rows = conn.execute(text(
            f"SELECT seq, ts, principal, {flags} FROM threat_events "  # noqa: S608 - rules
            f"WHERE {scope}seq >= :lo AND seq < :hi AND ({either}) ORDER BY seq"),
            {"action": action, "lo": lo, "hi": hi}).all()
    out: list[Match] = []
    for index, (rule, _) in enumerate(members, start=3):
        groups: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for row in rows:
            if row[index]:
                groups[str(row[2])].append((int(row[0]), float(row[1])))
        out += [_match(rule.rule_id, rule.title, rule.severity, (("principal", p),), events)
                for p, events in groups.items()]
    return out


_ACTION_EQ = re.compile(r"""^"action"\s*=\s*'((?:[^']|'')*)'(?: AND (.+))?$""", re.DOTALL)


def split_action(where: str) -> tuple[str | None, str]:
    """``("x", rest)`` when ``where`` is ``"action"='x' AND rest`` at the top level (so
    it equals ``action = 'x' AND (rest)``); ``(None, where)`` otherwise."""
    match = _ACTION_EQ.match(where)
    if match is None or not _top_level_and_only(where):
        return None, where
    return match.group(1).replace("''", "'"), match.group(2) or "1=1"


def _top_level_and_only(where: str) -> bool:
    """No OR outside parentheses and quotes (AND binds tighter than OR in SQL)."""
    depth, quoted, i = 0, False, 0
    while i < len(where):
        char = where[i]
        if char == "'":
            quoted = not quoted
        elif not quoted:
            if char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
            elif depth == 0 and where.startswith(" OR ", i):
                return False
        i += 1
    return True


def run_correlations(conn: Connection, rules: Sequence[CorrelationRule], lo: int, hi: int,
                     problems: list[RuleProblem]) -> list[Match]:
    if not rules:
        return []
    start = conn.execute(text("SELECT MIN(ts) FROM threat_events WHERE seq >= :lo "
                              "AND seq < :hi"), {"lo": lo, "hi": hi}).scalar()
    if start is None:
        return []
    out: list[Match] = []
    for rule in rules:
        since = float(start) - rule.timespan_s
        # The first event of the window, one step down the ts index (the ledger stamps
        # entries in seq order, so ts grows with seq): the query then reads a range of
        # seq (the rowid on SQLite), not every event before the new ones.
        first = conn.execute(text("SELECT seq FROM threat_events WHERE ts >= :since "
                                  "ORDER BY ts, seq LIMIT 1"), {"since": since}).scalar()
        try:
            with conn.begin_nested():  # a failure must not abort the others (PostgreSQL)
                out += _correlate(conn, rule, int(first if first is not None else lo), hi,
                                  lo, since)
        except SQLAlchemyError as exc:
            problems.append(RuleProblem("pack", rule.title, f"failed to run: {exc}"))
    return out


def _correlate(conn: Connection, rule: CorrelationRule, first: int, hi: int,  # noqa: PLR0917
               lo: int, since: float) -> list[Match]:
    params = {"first": first, "lo": lo, "hi": hi, "since": since}
    if rule.kind == "value_count":
        return _value_count(conn, rule, params)
    rows = conn.execute(text(window_sql(rule)), params).all()
    # Per group: the first and the last row of this pass that met the condition; the
    # alert carries every base match from the first one's window to the last one.
    fired: dict[tuple[str, ...], tuple[float, float]] = {}
    for row in rows:
        key = tuple(str(v) for v in row[2:2 + len(rule.group_by)])
        began = fired.get(key, (float(row[1]), 0.0))[0]
        fired[key] = (began, float(row[1]))
    return [_window_events(conn, rule, key, span, params) for key, span in fired.items()]


def window_sql(rule: CorrelationRule) -> str:
    """event_count and temporal as one window-function query (SQLite >= 3.28, PG >= 11)."""
    groups = ", ".join(f'"{g}"' for g in rule.group_by)
    partition = f"PARTITION BY {groups} " if groups else ""
    window = (f"({partition}ORDER BY ts RANGE BETWEEN {rule.timespan_s!r} PRECEDING "
              "AND CURRENT ROW)")
    any_base = " OR ".join(f"({b})" for b in rule.bases)
    select_groups = f", {groups}" if groups else ""
    if rule.kind == "event_count":
        inner = (f"SELECT seq, ts{select_groups}, COUNT(*) OVER {window} AS n "  # noqa: S608
                 f"FROM threat_events WHERE seq >= :first AND seq < :hi AND ts >= :since "
                 f"AND ({any_base})")
        cond = f"n {rule.op} {rule.threshold}"
    else:  # temporal: every base rule seen within the window
        flags = ", ".join(f"MAX(CASE WHEN ({b}) THEN 1 ELSE 0 END) OVER {window} AS r{i}"
                          for i, b in enumerate(rule.bases))
        inner = (f"SELECT seq, ts{select_groups}, {flags} FROM threat_events "  # noqa: S608
                 f"WHERE seq >= :first AND seq < :hi AND ts >= :since AND ({any_base})")
        cond = " AND ".join(f"r{i} = 1" for i in range(len(rule.bases)))
    return (f"SELECT * FROM ({inner}) w WHERE seq >= :lo AND {cond} "  # noqa: S608
            "ORDER BY seq")


def _window_events(conn: Connection, rule: CorrelationRule, key: tuple[str, ...],
                   span: tuple[float, float], params: dict[str, float]) -> Match:
    # By ts and group only (rare: once per alert), so the window's start may lie
    # before the range the pass read.
    same = "".join(f' AND "{g}" = :g{i}' for i, g in enumerate(rule.group_by))
    any_base = " OR ".join(f"({b})" for b in rule.bases)
    binds = {**params, "t0": span[0] - rule.timespan_s, "t1": span[1],
             **{f"g{i}": v for i, v in enumerate(key)}}
    rows = conn.execute(text(
        f"SELECT seq, ts FROM threat_events WHERE ts >= :t0 AND ts <= :t1 "  # noqa: S608
        f"AND seq < :hi AND ({any_base}){same} ORDER BY seq"), binds).all()
    events = [(int(s), float(t)) for s, t in rows]
    return _match(rule.rule_id, rule.title, rule.severity, tuple(zip(rule.group_by, key,
                                                                     strict=True)), events)


def _value_count(conn: Connection, rule: CorrelationRule,
                 params: dict[str, float]) -> list[Match]:
    # Distinct values in a sliding window is not a window function in SQLite or
    # PostgreSQL (no COUNT(DISTINCT) OVER); the base matches are few, so one ordered
    # scan with a counter per group is linear and exact.
    groups = "".join(f', "{g}"' for g in rule.group_by)
    any_base = " OR ".join(f"({b})" for b in rule.bases)
    rows = conn.execute(text(
        f'SELECT seq, ts, "{rule.field}"{groups} FROM threat_events '  # noqa: S608
        f"WHERE seq >= :first AND seq < :hi AND ts >= :since AND ({any_base}) "
        "ORDER BY ts, seq"), params).all()
    windows: dict[tuple[str, ...], deque[tuple[int, float, str]]] = defaultdict(deque)
    fired: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    for row in rows:
        seq, ts, value, key = int(row[0]), float(row[1]), str(row[2]), tuple(
            str(v) for v in row[3:])
        window = windows[key]
        window.append((seq, ts, value))
        while window and window[0][1] < ts - rule.timespan_s:
            window.popleft()
        distinct = len({v for _, _, v in window})
        if seq >= params["lo"] and key not in fired and _compare(distinct, rule):
            fired[key] = [(s, t) for s, t, _ in window]
    return [_match(rule.rule_id, rule.title, rule.severity,
                   tuple(zip(rule.group_by, key, strict=True)), events)
            for key, events in fired.items()]


def _compare(value: int, rule: CorrelationRule) -> bool:
    threshold = rule.threshold
    return {">=": value >= threshold, ">": value > threshold, "<=": value <= threshold,
            "<": value < threshold, "=": value == threshold}[rule.op]


def _match(rule_id: str, title: str, severity: str, group: tuple[tuple[str, str], ...],
           events: list[tuple[int, float]]) -> Match:
    kept = events[-MAX_EVENTS_PER_MATCH:]
    return Match(rule_id, title, severity, group, tuple(s for s, _ in kept),
                 min(t for _, t in events), max(t for _, t in events))


__all__ = ["Match", "run_correlations", "run_singles", "window_sql"]
