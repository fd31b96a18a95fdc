"""Insider baselines: robust scores (pure), and an alert on synthetic history with an
injected clock, on both profiles, for the one principal that departs from its own days
and its peers' day, and for no one else."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import insert

from sovra.store.tables.threat import threat_events
from sovra.threat.baseline import judge, score
from sovra.threat.service import ThreatService
from tests.support.clock import TEST_NOW
from tests.threat.conftest import Armed

NOW = TEST_NOW.timestamp()


@given(st.lists(st.integers(0, 1000), min_size=2, max_size=60), st.integers(0, 1000))
def test_one_outlier_in_history_does_not_move_the_baseline(history: list[int],
                                                            value: int) -> None:
    spoiled = score([*history, 10**9], value)
    # One past incident keeps the median among the ordinary days (a mean would not).
    assert min(history) <= spoiled.median <= max(history)


def test_judge_needs_own_history_and_peers_to_agree() -> None:
    usual = {"requests": 10.0, "secret_chunks": 0.0}
    days = {f"p{i}": [usual] * 10 + [usual] for i in range(4)}
    days["mallory"] = [usual] * 10 + [{"requests": 11.0, "secret_chunks": 300.0}]
    days["newcomer"] = [usual] * 3 + [{"requests": 11.0, "secret_chunks": 300.0}]
    roles = dict.fromkeys(days, "analyst")
    found = judge(days, roles)
    assert [(d.principal, d.metric) for d in found] == [("mallory", "secret_chunks")]
    assert found[0].peers is not None and found[0].peers.z >= 3.5
    # Everyone did it today (a new process, a migration): no single principal departs.
    everyone = {p: [*v[:-1], {"requests": 11.0, "secret_chunks": 300.0}]
                for p, v in days.items()}
    assert judge(everyone, roles) == []


def _event(seq: int, principal: str, ts: float, **fields: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "seq": seq, "ts": ts, "timestamp": "", "principal": principal, "role": "analyst",
        "action": "data.retrieve", "resource": "collections/notes", "outcome": "success",
        "source_ip": None, "classification": "internal", "model": None, "credential": None,
        "documents": 2, "chunks": 2, "bytes": 0, "hour": 10}
    row.update(fields)
    return row


def synthetic_history(armed: Armed) -> None:
    rows = []
    seq = 10_000_000
    for k in range(1, 29):  # 28 ordinary days for six analysts
        for p in range(6):
            for j in range(10):
                rows.append(_event(seq, f"analyst{p}", NOW - k * 86400 - 40000 + j * 60))
                seq += 1
    for p in range(5):  # today: five of them as usual
        for j in range(10):
            rows.append(_event(seq, f"analyst{p}", NOW - 40000 + j * 60))
            seq += 1
    for j in range(60):  # today, analyst5: sixty secret retrievals at 2 a.m.
        rows.append(_event(seq, "analyst5", NOW - 40000 + j * 30, classification="secret",
                           chunks=5, documents=5, hour=2))
        seq += 1
    for k in range(3):  # a newcomer with three days: no baseline yet
        rows.append(_event(seq, "newcomer", NOW - k * 86400 - 40000, classification="secret",
                           chunks=50, hour=2))
        seq += 1
    with armed.instance.engine.begin() as conn:
        conn.execute(insert(threat_events), rows)


def test_a_baseline_alert_fires_on_synthetic_history(armed: Armed) -> None:
    synthetic_history(armed)
    threat = ThreatService(armed.instance.engine, armed.instance.ledger,
                           armed.instance.policy, clock=lambda: NOW)
    raised = threat.baselines(armed.admin)
    assert len(raised) == 1
    alert = threat.alerts.get(raised[0])
    assert alert.detail["group"] == {"principal": "analyst5"}
    assert alert.severity == "high"
    for metric in ("requests", "documents", "secret_chunks", "off_hours"):
        assert metric in alert.title
    assert len(alert.events) == 60
    # Judged again an hour later: the open alert absorbs it, no second alert.
    later = ThreatService(armed.instance.engine, armed.instance.ledger,
                          armed.instance.policy, clock=lambda: NOW + 3600)
    assert later.baselines() == raised
    assert len(later.alerts.list()) == 1
