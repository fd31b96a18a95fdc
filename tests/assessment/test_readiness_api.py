"""``/assessment/*`` and ``sovra assess``: authorised by policy, each run recorded,
bad questionnaires a 400 naming the line, the report rendered, two runs diffed."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from sovra.api import create_app
from sovra.cli.app import app
from sovra.config import load_settings
from sovra.identity import ensure_first_admin
from sovra.instance import Instance, open_instance
from tests.assessment.readiness_support import FILLED
from tests.support.admin import bearer


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    with TestClient(create_app(instance)) as test_client:
        yield test_client


def _entries(instance: Instance, action: str) -> list[dict[str, object]]:
    bodies = [json.loads(row.body) for row in instance.ledger.tail(100)]
    return [b for b in bodies if b["action"] == action]


def test_an_auditor_runs_an_assessment_and_it_is_recorded(
        instance: Instance, client: TestClient) -> None:
    auditor = bearer(instance, "erin", "auditor")
    answer = client.post("/assessment/run", headers=auditor, json={"questionnaire": FILLED})
    assert answer.status_code == 200, answer.text
    doc = answer.json()
    assert set(doc["layers"]) == {"data", "operation", "access", "infrastructure",
                                  "compliance", "ai", "continuity"}
    [entry] = _entries(instance, "assessment.run")
    assert entry["actor"] == "erin" and entry["seq"] == doc["ledger_seq"]
    assert entry["details"]["seal"] == doc["seal"]["level"]  # type: ignore[index]
    html = client.post("/assessment/report", headers=auditor,
                       json={"assessment": doc, "format": "html"})
    assert html.status_code == 200 and "<svg" in html.text
    assert html.headers["content-type"].startswith("text/html")
    template = client.get("/assessment/questionnaire", headers=auditor)
    assert "extraterritorial_exposure:" in template.json()["questionnaire"]


def test_an_analyst_is_refused_and_the_refusal_is_recorded(
        instance: Instance, client: TestClient) -> None:
    analyst = bearer(instance, "dave", "analyst")
    answer = client.post("/assessment/run", headers=analyst, json={})
    assert answer.status_code == 403
    assert not _entries(instance, "assessment.run")
    denied = [d for d in _entries(instance, "policy.decision") if d["actor"] == "dave"]
    assert denied and denied[-1]["outcome"] == "denied"


def test_a_bad_questionnaire_is_a_400_naming_the_line_and_nothing_is_recorded(
        instance: Instance, client: TestClient) -> None:
    auditor = bearer(instance, "erin", "auditor")
    bad = FILLED.replace("hardware_supply:\n  answer: yes", "hardware_supply:\n  answer: 7")
    answer = client.post("/assessment/run", headers=auditor, json={"questionnaire": bad})
    assert answer.status_code == 400, answer.text
    assert "questionnaire:13: hardware_supply: answer 7 is not one of" in answer.text
    assert not _entries(instance, "assessment.run")
    wrong = client.post("/assessment/report", headers=auditor,
                        json={"assessment": {"format": "other"}})
    assert wrong.status_code == 400 and "not a Sovra readiness assessment" in wrong.text


def test_the_cli_writes_the_template_runs_twice_renders_and_diffs(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    inst = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
    try:
        token = ensure_first_admin(inst)
    finally:
        inst.close()
    assert token is not None
    env = {"SOVRA_API_KEY": token, "SOVRA_CHECKPOINT_INTERVAL_S": "0"}
    cli = CliRunner()
    q = tmp_path / "q.yaml"
    made = cli.invoke(app, ["assess", "questionnaire", "--out", str(q)])
    assert made.exit_code == 0 and "physical_access:" in q.read_text()
    refused = cli.invoke(app, ["--data-dir", str(data_dir), "assess", "run",
                               "--questionnaire", str(q)], env=env)
    assert refused.exit_code != 0
    assert "physical_access has no answer" in " ".join(refused.output.split())
    q.write_text(FILLED)
    first, second = tmp_path / "a1.json", tmp_path / "a2.json"
    for out in (first, second):
        result = cli.invoke(app, ["--data-dir", str(data_dir), "assess", "run",
                                  "--questionnaire", str(q), "--out", str(out)], env=env)
        assert result.exit_code == 0, result.output
        seq = json.loads(out.read_text())["ledger_seq"]
        assert f"recorded in the ledger as entry {seq}" in " ".join(result.output.split())
    html = tmp_path / "a1.html"
    rendered = cli.invoke(app, ["assess", "report", str(first), "--out", str(html)])
    assert rendered.exit_code == 0 and "<svg" in html.read_text()
    diffed = cli.invoke(app, ["assess", "diff", str(first), str(second), "--json"])
    assert diffed.exit_code == 0, diffed.output
    changes = json.loads(diffed.output)
    assert changes["seal"]["from"] == changes["seal"]["to"]
    assert changes["from"]["id"] != changes["to"]["id"]
    pdf_to_stdout = cli.invoke(app, ["assess", "report", str(first), "--format", "pdf"])
    assert pdf_to_stdout.exit_code != 0
    assert "give --out" in " ".join(pdf_to_stdout.output.split())
    not_json = tmp_path / "x.json"
    not_json.write_text("{")
    bad = cli.invoke(app, ["assess", "diff", str(not_json), str(second)])
    assert bad.exit_code != 0 and "is not JSON" in " ".join(bad.output.split())


def test_a_damaged_assessment_is_a_400_never_a_500(instance: Instance,
                                                   client: TestClient) -> None:
    auditor = bearer(instance, "erin", "auditor")
    damaged = {"format": "sovra-readiness/1", "id": "a", "seal": {}, "layers": {},
               "criteria": [{"id": 3}]}
    answer = client.post("/assessment/report", headers=auditor,
                         json={"assessment": damaged, "format": "html"})
    assert answer.status_code == 400, answer.text
    assert "is damaged" in answer.text
