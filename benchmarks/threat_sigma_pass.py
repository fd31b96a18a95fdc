"""Sigma detection pass over the security event table (issue 18: >= 200,000 events/s).

One run, one SQLite file (the embedded profile):
  * baseline: a bare SQL scan of the same event range (``SELECT COUNT(*) ... WHERE seq
    BETWEEN`` reading one column of every row), the floor of any pass that reads events;
  * pass: ``--rules`` single-event Sigma rules (pySigma, SQLite backend) plus
    ``--correlations`` correlation rules (Sovra's window-function SQL: event_count,
    value_count, temporal) evaluated incrementally over ``--events`` new events, in
    ``--increments`` passes as the scheduler runs them;
  * backend_correlation (with --compare-backend): pySigma's own correlation SQL for one
    event_count rule over ``--compare-events`` events, to show why Sovra compiles its own.

Prints JSON: seconds, events/s, and the pass's cost relative to the bare scan.
Run: .venv/bin/python benchmarks/threat_sigma_pass.py [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text

from sovra.store import make_engine, upgrade
from sovra.store.tables.threat import threat_events
from sovra.threat.hunt import run_pass
from sovra.threat.sigma import RuleProblem, compile_pack

ACTIONS = ["policy.decision"] * 50 + ["data.retrieve"] * 15 + ["ai.chat"] * 15 + [
    "identity.authenticate", "data.ingest", "data.classify", "data.document.read",
    "keys.rotate", "bundles.import", "identity.change.request", "policy.activate",
    "data.erase", "lockbox.request", "models.register", "collections.create"] * 2
LEVELS = ["public", "internal", "confidential", "secret"]


def events(count: int, start_ts: float) -> list[dict[str, object]]:
    rng = random.Random(11)
    principals = [f"user{i:04d}" for i in range(2000)]
    rows = []
    ts = start_ts
    for seq in range(count):
        ts += rng.expovariate(50.0)  # ~50 events/s
        action = rng.choice(ACTIONS)
        rows.append({
            "seq": seq, "ts": ts, "timestamp": "", "principal": rng.choice(principals),
            "role": "analyst", "action": action, "resource": f"collection/c{rng.randrange(200)}",
            "outcome": "denied" if rng.random() < 0.03 else (
                "failure" if action == "identity.authenticate" and rng.random() < 0.3
                else "success"),
            "source_ip": f"10.0.{rng.randrange(256)}.{rng.randrange(256)}",
            "classification": rng.choice(LEVELS), "model": None, "credential": None,
            "documents": rng.randrange(5), "chunks": rng.randrange(10),
            "bytes": rng.randrange(1 << 20), "hour": int(ts // 3600) % 24})
    return rows


def rules_yaml(singles: int, correlations: int) -> str:
    rng = random.Random(5)
    docs = []
    actions = sorted(set(ACTIONS))
    for i in range(singles):
        action = actions[i % len(actions)]
        # Detection rules are selective (an alert is the exception): each narrows its
        # action by a second field, so together they match ~0.5% of the events.
        extra = rng.choice([
            "classification: secret\n    outcome: denied",
            f"resource: 'collection/c{rng.randrange(200)}'\n    classification: secret",
            f"bytes|gte: {(1 << 20) - rng.randrange(1, 3000)}",
            f"hour: {rng.randrange(0, 5)}\n    classification: secret\n    outcome: denied",
            f"principal: 'user{rng.randrange(2000):04d}'",
            "outcome: denied\n    chunks|gte: 9"])
        docs.append(f"title: single {i}\nname: s{i}\nlogsource: {{product: sovra}}\n"
                    f"detection:\n  sel:\n    action: {action}\n    {extra}\n"
                    f"  condition: sel\nlevel: low\n")
    kinds = ["event_count", "value_count", "temporal"]
    for i in range(correlations):
        kind = kinds[i % 3]
        base = f"s{(i * 7) % singles}"
        other = f"s{(i * 7 + 3) % singles}"
        if kind == "event_count":
            body = (f"type: event_count\n  rules: [{base}]\n  group-by: [principal]\n"
                    f"  timespan: 10m\n  condition: {{gte: 5}}")
        elif kind == "value_count":
            body = (f"type: value_count\n  rules: [{base}]\n  group-by: [principal]\n"
                    f"  timespan: 1h\n  condition: {{gte: 3, field: resource}}")
        else:
            body = (f"type: temporal\n  rules: [{base}, {other}]\n  group-by: [principal]\n"
                    f"  timespan: 10m\n  generate: true")
        docs.append(f"title: correlation {i}\ncorrelation:\n  {body}\nlevel: high\n")
    return "---\n".join(docs)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--correlations", type=int, default=10)
    parser.add_argument("--increments", type=int, default=10)
    parser.add_argument("--compare-backend", action="store_true")
    parser.add_argument("--compare-events", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        rows = events(args.events, 1_790_000_000.0)
        with engine.begin() as conn:
            for start in range(0, len(rows), 50_000):
                conn.execute(insert(threat_events), rows[start:start + 50_000])
        pack = compile_pack({"bench.yml": rules_yaml(args.rules, args.correlations)},
                            "sqlite")
        assert not pack.problems, pack.problems
        with engine.connect() as conn:
            conn.execute(text("ANALYZE"))
            conn.execute(text("SELECT COUNT(*) FROM threat_events")).scalar()  # warm
            start = time.perf_counter()
            scanned = conn.execute(text(
                "SELECT COUNT(*) FROM threat_events WHERE seq >= 0 AND seq < :hi "
                "AND bytes >= 0"), {"hi": args.events}).scalar()
            bare = time.perf_counter() - start
            assert scanned == args.events
        problems: list[RuleProblem] = []
        step = args.events // args.increments
        matches = 0
        start = time.perf_counter()
        for lo in range(0, args.events, step):
            hi = min(lo + step, args.events)
            # One transaction per pass, as ThreatService.hunt runs it (it keeps the base
            # rules' matches for the next pass's correlation windows).
            with engine.begin() as conn:
                matches += len(run_pass(conn, pack, lo, hi, problems))
        passed = time.perf_counter() - start
        assert not problems, problems
        result: dict[str, object] = {
            "events": args.events, "single_rules": len(pack.singles),
            "correlation_rules": len(pack.correlations), "increments": args.increments,
            "bare_scan": {"seconds": round(bare, 3), "events_per_s": round(args.events / bare)},
            "pass": {"seconds": round(passed, 3), "events_per_s": round(args.events / passed),
                     "matches": matches},
            "pass_vs_bare_scan_time": round(passed / bare, 1),
        }
        if args.compare_backend:
            result["backend_correlation"] = backend_correlation(
                engine.url.database or "", args.compare_events)
        result["setup"] = {"python": platform.python_version(),
                           "sqlite": sqlite3.sqlite_version, "machine": platform.machine()}
        print(json.dumps(result, indent=2))


def backend_correlation(path: str, count: int) -> dict[str, object]:
    """pySigma's SQLite backend's own SQL for one event_count rule, and Sovra's."""
    from sigma.backends.sqlite import sqliteBackend  # type: ignore[attr-defined]
    from sigma.collection import SigmaCollection

    rules = SigmaCollection.from_yaml(
        "title: base\nname: base\nlogsource: {product: sovra}\n"
        "detection: {sel: {action: policy.decision}, condition: sel}\n---\n"
        "title: corr\ncorrelation: {type: event_count, rules: [base], group-by: [principal],"
        " timespan: 10m, condition: {gte: 5}}\n")
    backend = sqliteBackend(table="sub", timestamp_field="timestamp",
                            timestamp_format="unix")
    queries = backend.convert(rules)
    corr = queries[-1]
    own = compile_pack({"c.yml": "title: base\nname: base\nlogsource: {product: sovra}\n"
                        "detection: {sel: {action: policy.decision}, condition: sel}\n---\n"
                        "title: corr\ncorrelation: {type: event_count, rules: [base], "
                        "group-by: [principal], timespan: 10m, condition: {gte: 5}}\n"},
                       "sqlite")
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TEMP VIEW sub AS SELECT rowid, seq, ts AS timestamp, principal, "
                     f"action FROM threat_events WHERE seq < {count}")
        start = time.perf_counter()
        conn.execute(corr).fetchall()
        theirs = time.perf_counter() - start
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("DELETE FROM threat_rule_matches"))
        conn.execute(text("DELETE FROM threat_cursors"))
        conn.commit()
        start = time.perf_counter()
        alerts = run_pass(conn, own, 0, count, [])
        ours = time.perf_counter() - start
        conn.rollback()
    return {"events": count, "backend_seconds": round(theirs, 3),
            "sovra_pass_seconds": round(ours, 3),
            "groups_alerted": len([m for m in alerts if m.title == "corr"])}


if __name__ == "__main__":
    main()
