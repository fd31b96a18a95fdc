"""Rules over the real event table on both profiles: Sigma's case-insensitive matching,
``temporal_ordered``, correlation windows that span passes and pack changes, and two
passes at once raising each alert once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, insert, select

from sovra.store import make_engine, upgrade
from sovra.store.tables.ledger import ledger_entries
from sovra.store.tables.threat import threat_events, threat_rule_matches
from sovra.threat.hunt import Match, run_pass
from sovra.threat.service import ThreatService
from sovra.threat.sigma import CompiledPack, RuleProblem, compile_pack
from tests.support.clock import TEST_NOW
from tests.threat.conftest import Armed
from tests.threat.test_hunt import fail_logins

T0 = TEST_NOW.timestamp()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url)
    upgrade(made)
    yield made
    made.dispose()


def event(seq: int, ts: float, principal: str, action: str, **extra: object
          ) -> dict[str, object]:
    row: dict[str, object] = {
        "seq": seq, "ts": T0 + ts, "timestamp": "", "principal": principal,
        "role": "analyst", "action": action, "resource": "collection/c1",
        "outcome": "success", "source_ip": None, "classification": None, "model": None,
        "credential": None, "documents": 0, "chunks": 0, "bytes": 0, "hour": 12,
        "grant_id": None, "user_agent": None, "domain": None}
    row.update(extra)
    return row


def add(engine: Engine, rows: list[dict[str, object]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(threat_events), rows)


def hunt(engine: Engine, pack: CompiledPack, lo: int, hi: int) -> list[Match]:
    problems: list[RuleProblem] = []
    with engine.begin() as conn:
        found = run_pass(conn, pack, lo, hi, problems)
    assert problems == []
    return found


def rule(title: str, name: str, selection: str) -> str:
    return (f"title: {title}\nname: {name}\nlogsource: {{product: sovra}}\n"
            f"detection:\n  sel:\n{selection}\n  condition: sel\nlevel: high\n")


def test_strings_match_ignoring_case_unless_cased_on_both_profiles(engine: Engine) -> None:
    add(engine, [event(0, 0, "Alice", "data.retrieve", resource="Collection/Finance",
                       model="GPT-X"),
                 event(1, 1, "bob", "data.retrieve", resource="collection/hr", model="gpt-x")])
    rules = {
        "equal, other case": "    principal: ALICE",
        "action, other case": "    action: Data.Retrieve\n    principal: alice",
        "contains, other case": "    resource|contains: FINANCE",
        "wildcard, other case": "    resource: 'COLLECTION/F*'",
        "cased, same case": "    model|cased: GPT-X",
        "cased, other case": "    model|cased: Gpt-X",
        "cased wildcard, same case": "    principal|cased: 'Ali*'",
        "cased wildcard, other case": "    principal|cased: 'ali*'",
        "regex, ignoring case": "    principal|re|i: '^ali'",
        "regex, case-sensitive": "    principal|re: '^ali'",
    }
    text = "---\n".join(rule(title, f"r{i}", body) for i, (title, body)
                        in enumerate(rules.items()))
    pack = compile_pack({"case.yml": text}, engine.dialect.name)
    assert pack.problems == ()
    fired = {(m.title, m.group) for m in hunt(engine, pack, 0, 2)}
    alice = (("principal", "Alice"),)
    bob = (("principal", "bob"),)
    # Sigma's matching: every comparison ignores case, except |cased; the same on both.
    assert fired == {("equal, other case", alice), ("action, other case", alice),
                     ("contains, other case", alice), ("wildcard, other case", alice),
                     ("cased, same case", alice), ("cased wildcard, same case", alice),
                     ("regex, ignoring case", alice)}
    assert ("cased, same case", bob) not in fired


ORDERED = """title: Step one
name: one
logsource: {product: sovra}
detection: {sel: {action: policy.activate}, condition: sel}
---
title: Step two
name: two
logsource: {product: sovra}
detection: {sel: {action: keys.export}, condition: sel}
---
title: Policy change then export, in order
correlation: {type: temporal_ordered, rules: [one, two], group-by: [principal],
              timespan: 10m}
level: critical
---
title: Policy change and export, any order
correlation: {type: temporal, rules: [one, two], group-by: [principal], timespan: 10m}
"""


def test_temporal_ordered_fires_only_in_order_within_the_timespan(engine: Engine) -> None:
    pack = compile_pack({"ordered.yml": ORDERED}, engine.dialect.name)
    assert pack.problems == ()
    assert [c.kind for c in pack.correlations] == ["temporal_ordered", "temporal"]
    add(engine, [
        event(0, 0, "ann", "policy.activate"),     # in order, the export in the next pass
        event(1, 10, "ben", "keys.export"),        # wrong order
        event(2, 20, "ben", "policy.activate"),
        event(3, 30, "cat", "policy.activate"),    # in order, too late (20 minutes)
    ])
    first = hunt(engine, pack, 0, 4)
    assert {(m.title, m.group) for m in first} == {
        ("Policy change and export, any order", (("principal", "ben"),))}
    add(engine, [event(4, 240, "ann", "keys.export"),
                 event(5, 1230, "cat", "keys.export")])
    second = hunt(engine, pack, 4, 6)
    ordered = [m for m in second if m.title.endswith("in order")]
    assert [(m.group, m.seqs, m.severity) for m in ordered] == [
        ((("principal", "ann"),), (0, 4), "critical")]
    assert {m.group for m in second if m.title.endswith("any order")} == {
        (("principal", "ann"),)}


COUNTED = """title: Refusal
name: refusal
logsource: {product: sovra}
detection: {sel: {action: policy.decision, outcome: denied}, condition: sel}
---
title: Refusals
correlation: {type: event_count, rules: [refusal], group-by: [principal], timespan: 1h,
              condition: {gte: 5}}
"""


def refusals(start: int, count: int) -> list[dict[str, object]]:
    return [event(start + i, 60.0 * (start + i), "dave", "policy.decision",
                  outcome="denied") for i in range(count)]


def test_a_window_spans_passes_from_the_stored_base_matches(engine: Engine) -> None:
    pack = compile_pack({"counted.yml": COUNTED}, engine.dialect.name)
    add(engine, refusals(0, 3))
    assert hunt(engine, pack, 0, 3) == []
    with engine.connect() as conn:  # kept, so the next pass need not evaluate them again
        assert len(conn.execute(select(threat_rule_matches)).all()) == 3
    assert hunt(engine, pack, 3, 3) == []  # a pass with nothing new drops nothing
    with engine.connect() as conn:
        assert len(conn.execute(select(threat_rule_matches)).all()) == 3
    add(engine, refusals(3, 2))
    fired = hunt(engine, pack, 3, 5)
    assert [(m.title, m.seqs) for m in fired] == [("Refusals", (0, 1, 2, 3, 4))]


def test_a_correlation_new_to_the_pack_still_sees_earlier_events(engine: Engine) -> None:
    without = compile_pack({"counted.yml": COUNTED.partition("---")[0]}, engine.dialect.name)
    add(engine, refusals(0, 4))
    assert [m.title for m in hunt(engine, without, 0, 4)] == ["Refusal"]
    add(engine, refusals(4, 1))
    pack = compile_pack({"counted.yml": COUNTED}, engine.dialect.name)
    fired = hunt(engine, pack, 4, 5)
    assert [(m.title, m.seqs) for m in fired] == [("Refusals", (0, 1, 2, 3, 4))]
    add(engine, refusals(5, 1))
    hunt(engine, without, 5, 6)  # no correlation reads them now: nothing kept
    with engine.connect() as conn:
        assert conn.execute(select(threat_rule_matches)).all() == []


def test_a_pass_repeated_after_a_crash_neither_fails_nor_double_counts(
        engine: Engine) -> None:
    pack = compile_pack({"counted.yml": COUNTED}, engine.dialect.name)
    add(engine, refusals(0, 5))
    first = hunt(engine, pack, 0, 5)
    # The hunt cursor was not written (a crash before it): the same range again.
    again = hunt(engine, pack, 0, 5)
    assert [m.seqs for m in first] == [m.seqs for m in again] == [(0, 1, 2, 3, 4)]


@pytest.mark.postgres
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_two_passes_at_once_on_postgresql_raise_each_alert_once(armed: Armed) -> None:
    # Two services with their own in-process locks, as two ``sovra up`` processes have.
    other = ThreatService(armed.instance.engine, armed.instance.ledger, armed.instance.policy,
                          clock=lambda: TEST_NOW.timestamp())
    fail_logins(armed, "10.0.0.9", 6)
    gate = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(service: ThreatService) -> None:
        try:
            gate.wait()
            service.hunt()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (armed.threat, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    titles = sorted(a.title for a in armed.threat.alerts.list())
    assert titles.count("API key failing repeatedly") == 1
    with armed.instance.engine.connect() as conn:
        raised = conn.execute(select(ledger_entries.c.action).where(
            ledger_entries.c.action == "threat.alert.raise")).all()
    assert len(raised) == len(titles)


def test_domain_and_user_agent_indicators_match_request_metadata(armed: Armed) -> None:
    ledger = armed.instance.ledger
    ledger.append("dave", "ai.chat", "model:m1", "success",
                  {"user_agent": "sqlmap/1.7.2#stable"})
    ledger.append("dave", "data.retrieve", "collection/x", "success",
                  {"origin": "https://beacon.C2.evil.example:8443/p"})
    # Near misses: another agent version, a parent of a listed domain.
    ledger.append("dave", "data.retrieve", "collection/x", "success",
                  {"user_agent": "sqlmap/1.7.2", "domain": "evil.example"})
    armed.threat.hunt()
    found = {a.rule_id: a.detail["group"] for a in armed.threat.alerts.list()
             if a.rule_id.startswith("indicator:")}
    assert found == {
        "indicator:user_agent:sqlmap/1.7.2#stable": {"user_agent": "sqlmap/1.7.2#stable"},
        "indicator:domain:beacon.c2.evil.example": {"domain": "beacon.c2.evil.example"},
    }
    agent = next(a for a in armed.threat.alerts.list()
                 if a.rule_id == "indicator:user_agent:sqlmap/1.7.2#stable")
    assert "indicator--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0005" in agent.title
