"""The threat triage page (alerts acknowledged and closed with a reason, each step in
the ledger) and the analytics page (a governed query with its masks shown, exports
awaiting their second approval, the requester never approving)."""

from __future__ import annotations

import json
import re

from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.instance import Instance
from tests.analytics.conftest import ANALYST, embedder, hr
from tests.support.console import console_for, csrf_of, log_in
from tests.threat.conftest import Armed, armed, key_dir, signers, workshop
from tests.threat.test_hunt import fail_logins

__all__ = ["armed", "embedder", "hr", "key_dir", "signers", "workshop"]  # fixtures


def _actions(inst: Instance, since: int, prefix: str) -> list[tuple[str, str, str]]:
    entries = [json.loads(e.body) for e in inst.ledger.tail(inst.ledger.size - since)]
    return [(e["actor"], e["action"], e["resource"]) for e in entries
            if e["action"].startswith(prefix)]


def test_an_administrator_acknowledges_and_closes_an_alert_with_a_reason(armed: Armed) -> None:
    inst = armed.instance
    fail_logins(armed, "10.0.0.9", 5)
    (alert_id,) = armed.threat.hunt().alerts
    auditor = console_for(inst, "aude", "auditor")
    seen = auditor.get("/console/threat")
    assert seen.status_code == 200 and alert_id in seen.text
    assert f"/threat/alerts/{alert_id}/close" not in seen.text  # may read, not triage
    assert auditor.post(f"/console/threat/alerts/{alert_id}/ack",
                        data={"csrf": csrf_of(seen.text)}).status_code == 403

    otto = TestClient(create_app(inst))  # the administrator (operators need a grant)
    log_in(otto, inst.identity.create_api_key("test", "alice").token)
    page = otto.get("/console/threat?status=open")
    assert 'href="/console/threat"' in page.text and alert_id in page.text
    token = csrf_of(page.text)
    before = inst.ledger.size
    acked = otto.post(f"/console/threat/alerts/{alert_id}/ack", data={"csrf": token})
    assert acked.status_code == 200
    assert f"acknowledged {alert_id} (acknowledged)" in acked.text
    bare = otto.post(f"/console/threat/alerts/{alert_id}/close", data={"csrf": token})
    assert bare.status_code == 400 and "is required" in bare.text
    closed = otto.post(f"/console/threat/alerts/{alert_id}/close",
                       data={"csrf": token, "reason": "a test client, key rotated"})
    assert closed.status_code == 200
    assert armed.threat.alerts.get(alert_id).close_reason == "a test client, key rotated"
    assert _actions(inst, before, "threat.alert.") == [
        ("alice", "threat.alert.ack", f"alert:{alert_id}"),
        ("alice", "threat.alert.close", f"alert:{alert_id}")]
    assert alert_id not in otto.get("/console/threat?status=open").text


def test_a_governed_query_shows_its_masks_and_an_export_waits_for_two(hr: Instance
                                                                      ) -> None:
    bob = console_for(hr, ANALYST.principal_id, "analyst", clearance="internal")
    page = bob.get("/console/analytics")
    assert page.status_code == 200
    ran = bob.post("/console/analytics/query", data={
        "csrf": csrf_of(page.text),
        "sql": "SELECT name, iban, salary FROM hr.staff ORDER BY salary"})
    assert ran.status_code == 200, ran.text
    assert re.search(r'id="masked">hr\.staff\.iban<', ran.text)
    assert "iban (masked)" in ran.text and "DE89370400440532013000" not in ran.text
    assert "Anna Keller" in ran.text
    refused = bob.post("/console/analytics/query", data={"csrf": csrf_of(page.text),
                                                         "sql": "DELETE FROM hr.staff"})
    assert refused.status_code in (400, 403) and "Internal error" not in refused.text

    made = hr.exports.create(ANALYST, "portability", "hr")
    own = bob.get("/console/analytics")
    assert made.id in own.text and "you asked for this" in own.text
    forged = bob.post(f"/console/analytics/exports/{made.id}/approve",
                      data={"csrf": csrf_of(own.text)})
    assert forged.status_code == 403
    ann = console_for(hr, "ann", "approver")
    inbox = ann.get("/console/analytics")
    first = ann.post(f"/console/analytics/exports/{made.id}/approve",
                     data={"csrf": csrf_of(inbox.text)})
    assert f"approved export {made.id}: 1 of 2 (pending)" in first.text
    assert "awaiting the second approval" in first.text
    abe = console_for(hr, "abe", "approver")
    second = abe.post(f"/console/analytics/exports/{made.id}/approve",
                      data={"csrf": csrf_of(abe.get("/console/analytics").text)})
    assert f"approved export {made.id}: 2 of 2 (released)" in second.text
    assert hr.exports.get(made.id).state == "released"
