"""Running compiled rules incrementally over the events in ``[lo, hi)``.

One pass (``run_pass``) reads each new event once: single-event rules, grouped by the
action they fix, are evaluated together in one indexed query per action, and the
matches of every rule a correlation refers to are stored (``threat_rule_matches``).
Correlations then read those stored matches for their whole window (the new range plus
one timespan before it, so a window that began before the range still counts) instead
of evaluating their base rules again over every event of the timespan, and report only
rows inside the range: each event is judged once by each rule (ADR 0901). A rule that
fails at run time is reported and the others still run.
"""

from __future__ import annotations

import functools
import hashlib
import re
from collections import defaultdict, deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, text
from sqlalchemy.exc import SQLAlchemyError

from sovra.store.tables.threat import threat_cursors
from sovra.threat.events import fold
from sovra.threat.sigma import CompiledPack, CorrelationRule, RuleProblem, SingleRule

# Matches kept per alert: enough to triage, bounded so one noisy rule cannot bloat rows.
MAX_EVENTS_PER_MATCH = 200
_COVER = "matches:"  # threat_cursors names: "matches:<key>:from" and "...:to"
Hits = dict[str, list[tuple[int, float]]]  # a rule's SQL condition -> (seq, ts) matched


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


def rule_key(where: str) -> int:
    """A rule's key in ``threat_rule_matches``: a digest of its SQL condition, so a rule
    whose condition changes starts afresh and never reads another's matches."""
    return int(hashlib.sha256(where.encode()).hexdigest()[:15], 16)


def run_pass(conn: Connection, pack: CompiledPack, lo: int, hi: int,
             problems: list[RuleProblem]) -> list[Match]:
    """Every rule of ``pack`` over the events in ``[lo, hi)``; writes the base rules'
    matches, so ``conn`` should be in a transaction the caller commits."""
    needed = {base for rule in pack.correlations for base in rule.bases}
    matches, hits = run_singles(conn, pack.singles, lo, hi, problems, keep=needed)
    if not pack.correlations:  # none to read them: whatever an older pack kept goes
        conn.execute(text("DELETE FROM threat_rule_matches"))
        return matches
    failed = store_matches(conn, pack.correlations, hits, lo, hi, problems)
    matches += run_correlations(
        conn, [r for r in pack.correlations if not set(r.bases) & failed], lo, hi, problems)
    return matches


def run_singles(conn: Connection, rules: Sequence[SingleRule], lo: int, hi: int,  # noqa: PLR0917
                problems: list[RuleProblem], keep: Iterable[str] = ()
                ) -> tuple[list[Match], Hits]:
    """Every standalone rule over ``[lo, hi)``, and the matched events of each rule whose
    condition is in ``keep`` (a correlation's base): all of them in one read of the new
    events.

    Most rules fix the action (``action: x``). The pass is one query over the range of
    new events (a rowid range on SQLite, read in order like a bare scan) whose filter is
    ``CASE action WHEN 'x' THEN (x's rules OR'd) ...``: each event is compared with its
    own action's rules only, and the per-rule flags are computed for the few events that
    match something (measured in benchmarks/threat_sigma_pass.py against one indexed
    query per action, ADR 0901). If it fails at run time, the rules are retried by
    action, then one by one, so a bad rule is reported and the others still run.
    """
    wanted = set(keep)
    groups: dict[str | None, list[tuple[SingleRule, str]]] = defaultdict(list)
    for rule in rules:
        if rule.standalone or rule.where in wanted:
            action, rest = split_action(rule.where)
            groups[action].append((rule, rest))
    out: list[Match] = []
    hits: Hits = {}
    if not groups:
        return out, hits
    try:
        _run_all(conn, groups, (lo, hi), wanted, out, hits)
    except SQLAlchemyError:
        _run_apart(conn, groups, (lo, hi), wanted, (out, hits, problems))
    return out, hits


def _run_apart(conn: Connection, groups: Mapping[str | None, list[tuple[SingleRule, str]]],
               span: tuple[int, int], keep: set[str],
               into: tuple[list[Match], Hits, list[RuleProblem]]) -> None:
    out, hits, problems = into
    lo, hi = span
    wanted = keep
    for action, members in groups.items():
        try:
            _run_all(conn, {action: members}, (lo, hi), wanted, out, hits)
        except SQLAlchemyError:
            for member in members:
                try:
                    _run_all(conn, {action: [member]}, (lo, hi), wanted, out, hits)
                except SQLAlchemyError as exc:
                    problems.append(RuleProblem("pack", member[0].title,
                                                f"failed to run: {exc}"))


def _run_all(conn: Connection,  # noqa: PLR0917
             groups: Mapping[str | None, list[tuple[SingleRule, str]]],
             span: tuple[int, int], keep: set[str], out: list[Match], hits: Hits) -> None:
    lo, hi = span
    members: list[SingleRule] = []
    branches: list[tuple[str, str, str]] = []  # (WHEN, its filter, its matched list)
    for action, group in groups.items():
        tags = []
        for rule, rest in group:
            tags.append(f"CASE WHEN ({_sql(rest)}) THEN '{len(members)} ' ELSE '' END")
            members.append(rule)
        branches.append((_literal(action) if action is not None else "",
                         " OR ".join(f"({_sql(rest)})" for _, rest in group),
                         " || ".join(tags)))
    scoped = [b for b in branches if b[0]]
    free = [b for b in branches if not b[0]]
    # Each event is tested against its own action's rules only; the matched rules'
    # numbers come back as one short string, computed for the few events that match.
    either = [(f'(CASE "action" {" ".join(f"WHEN {w} THEN ({f})" for w, f, _ in scoped)} '
              "ELSE 1=0 END)")] if scoped else []
    tagged = [(f'(CASE "action" {" ".join(f"WHEN {w} THEN {t}" for w, _, t in scoped)} '
              "ELSE '' END)")] if scoped else []
    either += [f"({f})" for _, f, _ in free]
    tagged += [t for _, _, t in free]
    # In a savepoint: on PostgreSQL a failed statement aborts the whole transaction,
    # and every rule after it would fail too.
    with conn.begin_nested():
        rows = conn.execute(text(
            f"SELECT seq, ts, principal, {' || '.join(tagged)} FROM threat_events "  # noqa: S608
            f"WHERE seq >= :lo AND seq < :hi AND ({' OR '.join(either)}) ORDER BY seq"),
            {"lo": lo, "hi": hi}).all()
    matched: list[list[tuple[int, float, str]]] = [[] for _ in members]
    for seq, ts, principal, found in rows:
        for index in str(found).split():
            matched[int(index)].append((int(seq), float(ts), str(principal)))
    for rule, events in zip(members, matched, strict=True):
        # Once per condition: two rules may share one (the same selection, two titles).
        if rule.where in keep and rule.where not in hits:
            hits[rule.where] = [(s, t) for s, t, _ in events]
        if not rule.standalone:
            continue
        by_principal: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for seq, ts, principal in events:
            by_principal[principal].append((seq, ts))
        out += [_match(rule.rule_id, rule.title, rule.severity, (("principal", p),), found)
                for p, found in by_principal.items()]


def _literal(value: str) -> str:
    return _sql("'" + value.replace("'", "''") + "'")


def _sql(condition: str) -> str:
    """A rule's condition inside ``text()``, which would read ``:name`` in a value (a
    rule matching ``' :x'``) as a bind parameter; escaped, it stays a colon."""
    return condition.replace(":", "\\:")


# The two forms of Sigma's case-insensitive ``action: x`` (sovra.threat.sigma).
_ACTION_EQ = re.compile(r"""^(?:"action"='((?:[^']|'')*)' COLLATE NOCASE"""
                        r"""|LOWER\("action"\)=LOWER\('((?:[^']|'')*)'\))(?: AND (.+))?$""",
                        re.DOTALL)


@functools.lru_cache(maxsize=4096)
def split_action(where: str) -> tuple[str | None, str]:
    """``("x", rest)`` when ``where`` is ``action`` equal to ``x`` ignoring case ``AND
    rest`` at the top level; ``(None, where)`` otherwise. The projection stores actions
    in lower case (``sovra.threat.events.fold``), so ``x`` folded the same way and
    compared with ``=`` is the same test: one ``CASE "action"`` branch per action in
    the pass, and an index range read when a base rule is filled in alone."""
    match = _ACTION_EQ.match(where)
    if match is None or not _top_level_and_only(where):
        return None, where
    value = match.group(1) if match.group(1) is not None else match.group(2)
    return fold(value.replace("''", "'")), match.group(3) or "1=1"


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


def store_matches(conn: Connection, rules: Sequence[CorrelationRule], hits: Hits,  # noqa: PLR0917
                  lo: int, hi: int, problems: list[RuleProblem]) -> set[str]:
    """Keep each base rule's matches over its correlations' windows; the conditions that
    failed (their correlations cannot run this pass).

    Coverage is recorded per rule (``matches:<key>:from`` and ``:to``): matches are held
    for ``[from, to)``. A pass continuing where the last one stopped adds the new range
    and drops what no window reaches any more; anything else (a rule new to the pack, a
    pass that stopped half way, a rule absent for a while) is filled in from the events
    once, so a correlation never misses a base match its window should see. The writes
    are three batched statements, whatever the number of rules.
    """
    start = first_ts(conn, lo, hi)
    spans: dict[str, float] = {}
    for rule in rules:
        for base in rule.bases:
            spans[base] = max(spans.get(base, 0.0), rule.timespan_s)
    cover = {str(name): int(pos) for name, pos in conn.execute(
        select(threat_cursors.c.name, threat_cursors.c.position).where(
            threat_cursors.c.name.like(_COVER + "%")))}
    firsts: dict[float, int] = {}
    failed: set[str] = set()
    cleared: list[dict[str, int]] = []  # every match of the rule: refilled from events
    pruned: list[dict[str, int]] = []  # matches before the earliest window
    rows: list[dict[str, float]] = []
    cursors: list[dict[str, object]] = []
    for where, span in sorted(spans.items()):
        key = rule_key(where)
        if where not in hits:  # it failed to run over the new events (reported)
            failed.add(where)
            continue
        held_from = cover.get(f"{_COVER}{key}:from")
        held_to = cover.get(f"{_COVER}{key}:to")
        if start is None:  # no new events: no window moves, nothing is dropped
            first = lo if held_from is None else min(held_from, lo)
        else:
            first = firsts.setdefault(span, _first_seq(conn, start - span, lo))
        try:
            if held_from is None or held_to != lo:
                found = _evaluate(conn, where, first, lo)
                cleared.append({"k": key})
            else:
                found = _evaluate(conn, where, first, held_from)
                pruned.append({"k": key, "first": first})
        except SQLAlchemyError as exc:
            failed.add(where)
            problems.append(RuleProblem("pack", f"base rule {key}", f"failed to run: {exc}"))
            continue
        rows += [{"k": key, "seq": s, "ts": t} for s, t in found + hits[where]]
        cursors += [{"name": f"{_COVER}{key}:from", "position": first},
                    {"name": f"{_COVER}{key}:to", "position": hi}]
    _write(conn, [rule_key(w) for w in spans], (cleared, pruned, rows, cursors))
    return failed


def _write(conn: Connection, live: list[int],
           batches: tuple[list[dict[str, int]], list[dict[str, int]],
                          list[dict[str, float]], list[dict[str, object]]]) -> None:
    cleared, pruned, rows, cursors = batches
    # Matches of rules no correlation reads any more (the pack changed) go at once.
    keys = ", ".join(map(str, live)) or "0"
    conn.execute(text(f"DELETE FROM threat_rule_matches WHERE rule_key NOT IN ({keys})"))  # noqa: S608 - digests
    if cleared:
        conn.execute(text("DELETE FROM threat_rule_matches WHERE rule_key = :k"), cleared)
    if pruned:
        conn.execute(text("DELETE FROM threat_rule_matches WHERE rule_key = :k "
                          "AND seq < :first"), pruned)
    if rows:
        conn.execute(text("INSERT INTO threat_rule_matches (rule_key, seq, ts) "
                          "VALUES (:k, :seq, :ts)"), rows)
    if cursors:
        conn.execute(text("INSERT INTO threat_cursors (name, position) VALUES "
                          "(:name, :position) ON CONFLICT (name) DO UPDATE SET "
                          "position = excluded.position"), cursors)


def first_ts(conn: Connection, lo: int, hi: int) -> float | None:
    """The earliest time among the events in ``[lo, hi)``: the first one's, as the
    ledger never stamps an entry earlier than the one before it (sovra.ledger.log).
    One row read by the primary key; ``MIN(ts)`` over the range read every row of it
    (and on SQLite walked the ``ts`` index from its start: quadratic over a day)."""
    found = conn.execute(text("SELECT ts FROM threat_events WHERE seq >= :lo "
                              "AND seq < :hi ORDER BY seq LIMIT 1"),
                         {"lo": lo, "hi": hi}).scalar()
    return None if found is None else float(found)


def _first_seq(conn: Connection, since: float, lo: int) -> int:
    # The first event of the window, one step down the ts index (ledger times never
    # go backwards, so ts grows with seq).
    first = conn.execute(text("SELECT seq FROM threat_events WHERE ts >= :since "
                              "ORDER BY ts, seq LIMIT 1"), {"since": since}).scalar()
    return min(int(first), lo) if first is not None else lo


def _evaluate(conn: Connection, where: str, lo: int, hi: int) -> list[tuple[int, float]]:
    if lo >= hi:
        return []
    action, rest = split_action(where)
    scope = '"action" = :action AND ' if action is not None else ""
    with conn.begin_nested():  # a failure must not abort the pass (PostgreSQL)
        rows = conn.execute(text(
            f"SELECT seq, ts FROM threat_events WHERE {scope}seq >= :lo "  # noqa: S608
            f"AND seq < :hi AND ({_sql(rest)}) ORDER BY seq"),
            {"action": action, "lo": lo, "hi": hi}).all()
    return [(int(s), float(t)) for s, t in rows]


def run_correlations(conn: Connection, rules: Sequence[CorrelationRule], lo: int, hi: int,
                     problems: list[RuleProblem]) -> list[Match]:
    """Every correlation over the base matches ``store_matches`` kept, firing on rows
    in ``[lo, hi)``."""
    if not rules:
        return []
    start = first_ts(conn, lo, hi)
    if start is None:
        return []
    out: list[Match] = []
    for rule in rules:
        params = {"lo": lo, "hi": hi, "since": float(start) - rule.timespan_s}
        try:
            with conn.begin_nested():  # a failure must not abort the others (PostgreSQL)
                out += _correlate(conn, rule, params)
        except SQLAlchemyError as exc:
            problems.append(RuleProblem("pack", rule.title, f"failed to run: {exc}"))
    return out


def base_sql(rule: CorrelationRule) -> str:
    """The rule's base matches in its window: one row per event, with the group's
    values, the counted field and one 0/1 flag per base rule (``f0``, ``f1``...)."""
    keys = [rule_key(b) for b in rule.bases]
    columns = [*rule.group_by, *([rule.field] if rule.field else [])]
    picked = "".join(f', e."{c}" AS "c_{c}"' for c in dict.fromkeys(columns))
    grouped = "".join(f', e."{c}"' for c in dict.fromkeys(columns))
    flags = "".join(f", MAX(CASE WHEN m.rule_key = {k} THEN 1 ELSE 0 END) AS f{i}"
                    for i, k in enumerate(keys))
    return (f"SELECT m.seq AS seq, m.ts AS ts{picked}{flags} "  # noqa: S608 - digests
            "FROM threat_rule_matches m JOIN threat_events e ON e.seq = m.seq "
            f"WHERE m.rule_key IN ({', '.join(map(str, dict.fromkeys(keys)))}) "
            f"AND m.ts >= :since AND m.seq < :hi GROUP BY m.seq, m.ts{grouped}")


def window_sql(rule: CorrelationRule) -> str:
    """event_count and temporal as one window-function query over the base matches
    (SQLite >= 3.28, PostgreSQL >= 11)."""
    groups = ", ".join(f'"c_{g}"' for g in rule.group_by)
    partition = f"PARTITION BY {groups} " if groups else ""
    window = (f"({partition}ORDER BY ts RANGE BETWEEN {rule.timespan_s!r} PRECEDING "
              "AND CURRENT ROW)")
    select_groups = f", {groups}" if groups else ""
    if rule.kind == "event_count":
        inner = f"SELECT seq, ts{select_groups}, COUNT(*) OVER {window} AS n FROM b"  # noqa: S608
        cond = f"n {rule.op} {rule.threshold}"
    else:  # temporal: every base rule seen within the window, in any order
        flags = ", ".join(f"MAX(f{i}) OVER {window} AS r{i}" for i in range(len(rule.bases)))
        inner = f"SELECT seq, ts{select_groups}, {flags} FROM b"  # noqa: S608
        cond = " AND ".join(f"r{i} = 1" for i in range(len(rule.bases)))
    return (f"WITH b AS ({base_sql(rule)}) SELECT * FROM ({inner}) w "  # noqa: S608
            f"WHERE seq >= :lo AND {cond} ORDER BY seq")


def _correlate(conn: Connection, rule: CorrelationRule,
               params: Mapping[str, float]) -> list[Match]:
    base = conn.execute(text(f"{base_sql(rule)} ORDER BY m.ts, m.seq"), params).all()
    if rule.kind in {"value_count", "temporal_ordered"}:
        scan = _value_count if rule.kind == "value_count" else _temporal_ordered
        return scan(rule, base, int(params["lo"]))
    if not base:
        return []
    rows = conn.execute(text(window_sql(rule)), params).all()
    # Per group: the first and the last row of this pass that met the condition; the
    # alert carries every base match from the first one's window to the last one,
    # picked from the base matches already read (one query per rule, not per alert).
    fired: dict[tuple[str, ...], tuple[float, float]] = {}
    for row in rows:
        key = tuple(str(v) for v in row[2:2 + len(rule.group_by)])
        began = fired.get(key, (float(row[1]), 0.0))[0]
        fired[key] = (began, float(row[1]))
    width = len(rule.group_by)
    events: dict[tuple[str, ...], list[tuple[int, float]]] = defaultdict(list)
    for row in base:
        key = tuple(str(v) for v in row[2:2 + width])
        span = fired.get(key)
        if span is not None and span[0] - rule.timespan_s <= float(row[1]) <= span[1]:
            events[key].append((int(row[0]), float(row[1])))
    return [_match(rule.rule_id, rule.title, rule.severity,
                   tuple(zip(rule.group_by, key, strict=True)), events[key])
            for key in fired]


def _value_count(rule: CorrelationRule, rows: Sequence[Sequence[Any]], lo: int
                 ) -> list[Match]:
    # Distinct values in a sliding window is not a window function in SQLite or
    # PostgreSQL (no COUNT(DISTINCT) OVER); the base matches are few, so one ordered
    # scan with a counter per group is linear and exact.
    width = len(dict.fromkeys([*rule.group_by, *([rule.field] if rule.field else [])]))
    at = list(dict.fromkeys([*rule.group_by, *([rule.field] if rule.field else [])]))
    windows: dict[tuple[str, ...], deque[tuple[int, float, str]]] = defaultdict(deque)
    fired: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    for row in rows:
        values = tuple(row)
        seq, ts = int(values[0]), float(values[1])
        cols = values[2:2 + width]
        key = tuple(str(cols[at.index(g)]) for g in rule.group_by)
        value = str(cols[at.index(rule.field or "")])
        window = windows[key]
        window.append((seq, ts, value))
        while window and window[0][1] < ts - rule.timespan_s:
            window.popleft()
        distinct = len({v for _, _, v in window})
        if seq >= lo and key not in fired and _compare(distinct, rule):
            fired[key] = [(s, t) for s, t, _ in window]
    return [_match(rule.rule_id, rule.title, rule.severity,
                   tuple(zip(rule.group_by, key, strict=True)), events)
            for key, events in fired.items()]


def _temporal_ordered(rule: CorrelationRule, rows: Sequence[Sequence[Any]], lo: int
                      ) -> list[Match]:
    """Sigma's ``temporal_ordered``: the base rules matched in the rule's order, all
    within the timespan. One ordered scan: per group and step ``i``, the chain through
    steps ``0..i`` that began latest (the one most likely to finish in time)."""
    width = len(dict.fromkeys(rule.group_by))
    steps = len(rule.bases)
    chains: dict[tuple[str, ...], list[tuple[float, list[tuple[int, float]]] | None]] = {}
    fired: dict[tuple[str, ...], list[tuple[int, float]]] = {}
    for row in rows:
        values = tuple(row)
        seq, ts = int(values[0]), float(values[1])
        key = tuple(str(v) for v in values[2:2 + width])
        flags = values[2 + width:]
        chain = chains.setdefault(key, [None] * steps)
        # From the last step down, so one event never serves as two steps at once.
        for i in reversed(range(steps)):
            if not flags[i]:
                continue
            before = chain[i - 1] if i else (ts, [])
            if before is None or ts - before[0] > rule.timespan_s:
                continue
            chain[i] = (before[0], [*before[1], (seq, ts)])
            if i == steps - 1 and seq >= lo and key not in fired:
                fired[key] = chain[i][1]  # type: ignore[index]
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


__all__ = ["Match", "base_sql", "rule_key", "run_correlations", "run_pass", "run_singles",
           "store_matches", "window_sql"]
