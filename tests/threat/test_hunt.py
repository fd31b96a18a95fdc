"""Hunting on both profiles: events made by the real services, the test pack imported
through a signed bundle, exactly the expected alerts raised, and triage recorded."""

from __future__ import annotations

import contextlib
import json

import pytest
from sqlalchemy import select

from sovra.errors import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    PermissionDeniedError,
    RateLimitedError,
)
from sovra.policy import Resource
from sovra.store.tables.ledger import ledger_entries
from tests.threat.conftest import Armed


def fail_logins(armed: Armed, client: str, times: int) -> None:
    for i in range(times):
        with contextlib.suppress(AuthenticationError, RateLimitedError):
            armed.instance.identity.authenticate(f"Bearer sk-sovra-wrong{i:04d}", client)


def refuse_dave(armed: Armed) -> None:
    dave = armed.caller("dave")
    for action, resource in (("keys.seal", Resource("Keys", "*")),
                             ("principals.manage", Resource("Principal", "*")),
                             ("bundles.import", Resource("Bundle", "x.tar"))):
        with pytest.raises(PermissionDeniedError):
            armed.instance.policy.require(dave, action, resource)


def titles(armed: Armed) -> dict[str, dict[str, str]]:
    return {a.title: a.detail["group"] for a in armed.threat.alerts.list()}


def ledger_actions(armed: Armed, prefix: str) -> list[str]:
    with armed.instance.engine.connect() as conn:
        rows = conn.execute(select(ledger_entries.c.action).where(
            ledger_entries.c.action.like(prefix + "%")).order_by(ledger_entries.c.seq))
        return list(rows.scalars())


def test_expected_alerts_and_no_others(armed: Armed) -> None:
    assert {t.kind for t in armed.imported.targets} == {"sigma", "yara", "stix", "misp"}
    fail_logins(armed, "10.0.0.9", 6)
    fail_logins(armed, "127.0.0.1", 1)  # listed in the STIX bundle
    refuse_dave(armed)
    armed.instance.identity.changes.principal(armed.admin, "eve", kind="user",
                                              roles=["admin"], clearance="secret")
    result = armed.threat.hunt(armed.admin)
    assert result.problems == ()
    assert titles(armed) == {
        "API key failing repeatedly": {"source_ip": "10.0.0.9"},
        "Refused on many resources": {"principal": "dave"},
        "Probing - failed authentication and refused authorisation": {},
        "Privileged change requested": {"principal": "alice"},
        "Request from listed address 127.0.0.1 (stix:test-stix@1#indicator--"
        "6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0002)": {"source_ip": "127.0.0.1"},
    }
    failing = next(a for a in armed.threat.alerts.list()
                   if a.title == "API key failing repeatedly")
    assert failing.severity == "high"
    assert len(armed.threat.alerts.get(failing.id).events) == 6
    assert ledger_actions(armed, "threat.alert.raise") == ["threat.alert.raise"] * 5


def test_incremental_passes_deduplicate_into_the_open_alert(armed: Armed) -> None:
    fail_logins(armed, "10.0.0.9", 5)
    first = armed.threat.hunt()
    assert len(first.alerts) == 1
    again = armed.threat.hunt()
    assert again.alerts == ()  # nothing new: nothing judged twice
    fail_logins(armed, "10.0.0.9", 2)
    third = armed.threat.hunt()
    assert third.alerts == first.alerts  # the same open alert absorbed them
    alert = armed.threat.alerts.get(first.alerts[0])
    assert alert.count == 7
    assert len(armed.threat.alerts.list()) == 1


def test_triage_is_recorded_and_close_needs_a_reason(armed: Armed) -> None:
    fail_logins(armed, "10.0.0.9", 5)
    (alert_id,) = armed.threat.hunt().alerts
    admin = armed.admin
    assert armed.threat.ack(admin, alert_id).status == "acknowledged"
    assert armed.threat.assign(admin, alert_id, "alice").assignee == "alice"
    with pytest.raises(InvalidInputError, match="needs a reason"):
        armed.threat.close_alert(admin, alert_id, "  ")
    incident = armed.threat.open_incident(admin, alert_id).incident_id
    assert incident is not None and incident.startswith("inc-")
    closed = armed.threat.close_alert(admin, alert_id, "test credentials, rotated")
    assert closed.status == "closed"
    assert closed.close_reason == "test credentials, rotated"
    with pytest.raises(ConflictError):
        armed.threat.ack(admin, alert_id)
    assert ledger_actions(armed, "threat.alert.") == [
        "threat.alert.raise", "threat.alert.ack", "threat.alert.assign",
        "threat.alert.incident", "threat.alert.close"]
    # The incident is opened in the compliance room's register, naming the alert.
    from sovra.compliance.register import IncidentRegister

    opened = IncidentRegister(armed.instance).get(incident)
    assert opened.source == f"threat:alert:{alert_id}"
    assert "API key failing repeatedly" in opened.title
    assert ledger_actions(armed, "compliance.incident.") == ["compliance.incident.open"]
    # A closed alert stays closed: the next burst opens a new one.
    fail_logins(armed, "10.0.0.9", 5)
    (new_id,) = armed.threat.hunt().alerts
    assert new_id != alert_id


def test_an_analyst_may_not_triage(armed: Armed) -> None:
    fail_logins(armed, "10.0.0.9", 5)
    (alert_id,) = armed.threat.hunt().alerts
    with pytest.raises(PermissionDeniedError):
        armed.threat.close_alert(armed.caller("dave"), alert_id, "nothing to see")
    assert armed.threat.alerts.get(alert_id).status == "open"


def test_pack_status_reports_age_and_warns_when_stale(armed: Armed) -> None:
    status = armed.threat.status(armed.admin)
    assert {(p.kind, p.component) for p in status.packs} == {
        ("sigma", "sovra-rules"), ("yara", "eicar"), ("stix", "test-stix"),
        ("misp", "cert-feed")}
    assert status.rules == 9 and status.yara_files == 1 and status.problems == ()
    assert not any(p.stale for p in status.packs)
    from sovra.threat.service import ThreatService
    from tests.support.clock import TEST_NOW

    later = ThreatService(armed.instance.engine, armed.instance.ledger, armed.instance.policy,
                          clock=lambda: TEST_NOW.timestamp() + 31 * 86400)
    stale = later.status(armed.admin)
    assert all(p.stale for p in stale.packs)
    assert any("sigma pack sovra-rules is 31 days old" in w for w in stale.warnings)


def test_pack_loading_is_recorded(armed: Armed) -> None:
    armed.threat.hunt()
    with armed.instance.engine.connect() as conn:
        body = conn.execute(select(ledger_entries.c.body).where(
            ledger_entries.c.action == "threat.pack.load")).scalars().first()
    assert body is not None
    details = json.loads(bytes(body))["details"]
    assert details["rules"] == 9 and details["problems"] == []


def test_the_schedule_hunts_in_the_background_until_closed(armed: Armed) -> None:
    import time

    fail_logins(armed, "10.0.0.9", 5)
    armed.threat.schedule(0.05)
    try:
        deadline = time.monotonic() + 60
        while not armed.threat.alerts.list() and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        armed.threat.close()
    assert [a.title for a in armed.threat.alerts.list()] == ["API key failing repeatedly"]


def test_a_rule_failing_at_run_time_is_reported_and_the_others_still_run(
        armed: Armed) -> None:
    from sovra.threat.hunt import run_pass
    from sovra.threat.sigma import RuleProblem, compile_pack

    # ``|re`` is Python's regular expression language on SQLite (SQLAlchemy's REGEXP)
    # and PostgreSQL's ``~`` there, which has no named groups: a rule that passes
    # compilation and fails when run on PostgreSQL.
    pack = compile_pack({"mixed.yml": """
title: Regex on the resource
logsource: {product: sovra}
detection: {sel: {action: identity.authenticate, resource|re: '^(?P<c>client):10'},
            condition: sel}
---
title: Authentication failure
name: failure
logsource: {product: sovra}
detection: {sel: {action: identity.authenticate, outcome: failure}, condition: sel}
---
title: Burst
correlation: {type: event_count, rules: [failure], group-by: [source_ip], timespan: 10m,
              condition: {gte: 5}, generate: true}
"""}, armed.instance.engine.dialect.name)
    assert pack.problems == ()
    fail_logins(armed, "10.0.0.9", 5)
    armed.threat.feed.catch_up()
    problems: list[RuleProblem] = []
    with armed.instance.engine.begin() as conn:
        hi = armed.threat.feed.position()
        matches = run_pass(conn, pack, 0, hi, problems)
    if armed.instance.engine.dialect.name == "postgresql":
        assert [p.rule for p in problems] == ["Regex on the resource"]
        assert "failed to run" in problems[0].message
    else:
        assert problems == []
    titles = sorted(m.title for m in matches)
    assert "Authentication failure" in titles
    assert "Burst" in titles


def test_a_pack_set_is_recorded_once_not_by_every_process_that_loads_it(
        armed: Armed) -> None:
    from sovra.threat.service import ThreatService

    armed.threat.status(armed.admin)
    another = ThreatService(armed.instance.engine, armed.instance.ledger,
                            armed.instance.policy)  # as a CLI command's process would
    another.status(armed.admin)
    assert ledger_actions(armed, "threat.pack.") == ["threat.pack.load"]
