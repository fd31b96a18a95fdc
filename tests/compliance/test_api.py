"""The compliance routes through the real app: report, check, incidents, refusals."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.config import load_settings
from sovra.instance import open_instance


@pytest.fixture
def client(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    inst = open_instance(load_settings(data_dir=tmp_path / "d", checkpoint_interval_s=0.0))
    heads = {}
    try:
        for principal, role in [("aud", "auditor"), ("apr", "approver"), ("ana", "analyst")]:
            inst.identity.create_principal("test", principal, roles=[role])
            token = inst.identity.create_api_key("test", principal).token
            heads[principal] = token
        with TestClient(create_app(inst)) as test_client:
            yield test_client, heads
    finally:
        inst.close()


def _h(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_report_and_check(client: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = client
    made = http.post("/compliance/reports", json={"regimes": ["gdpr"]},
                     headers=_h(keys["aud"]))
    assert made.status_code == 200, made.text
    report = made.json()
    assert {"sov-era-1", "sov-inc-1"} <= {c["id"] for c in report["controls"]}
    checked = http.post("/compliance/check", json={"report": report},
                        headers=_h(keys["aud"]))
    assert checked.json()["valid"] is True
    report["claims"][0]["count"] += 1
    checked = http.post("/compliance/check", json={"report": report},
                        headers=_h(keys["aud"]))
    body = checked.json()
    assert body["valid"] is False
    assert any(p.startswith(f"claim {report['claims'][0]['id']}") for p in body["problems"])


def test_bad_input_is_a_4xx_naming_the_problem(
        client: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = client
    bad = http.post("/compliance/reports", json={"regimes": ["sox"]},
                    headers=_h(keys["aud"]))
    assert bad.status_code in (400, 422) and "unknown regime" in bad.text
    bad = http.post("/compliance/reports", json={"since": "2001-01-01",
                                                 "until": "2001-01-02"},
                    headers=_h(keys["aud"]))
    assert bad.status_code in (400, 422) and "no entries between" in bad.text
    assert http.post("/compliance/reports", json={},
                     headers=_h(keys["ana"])).status_code == 403


def test_incident_over_http(client: tuple[TestClient, dict[str, str]]) -> None:
    http, keys = client
    made = http.post("/compliance/incidents", json={"title": "ransomware"},
                     headers=_h(keys["apr"]))
    assert made.status_code == 201, made.text
    incident = made.json()["id"]
    classified = http.post(f"/compliance/incidents/{incident}/classify",
                           json={"dora_major": True}, headers=_h(keys["apr"]))
    assert [d["notification"] for d in classified.json()["deadlines"]] == [
        "dora.initial", "dora.intermediate", "dora.final"]
    sent = http.post(f"/compliance/incidents/{incident}/notifications",
                     json={"notification": "dora.initial"}, headers=_h(keys["apr"]))
    assert sent.json()["deadlines"][0]["state"] == "met"
    listed = http.get("/compliance/incidents", headers=_h(keys["aud"]))
    assert listed.json()[0]["id"] == incident
    drafted = http.get(f"/compliance/incidents/{incident}/drafts/dora.intermediate",
                       headers=_h(keys["aud"]))
    assert drafted.json()["deadline_state"] == "pending"
    missing = http.get("/compliance/incidents/inc-000000000000/drafts/dora.initial",
                       headers=_h(keys["aud"]))
    assert missing.status_code == 404
    assert http.post("/compliance/incidents", json={"title": "x"},
                     headers=_h(keys["aud"])).status_code == 403
