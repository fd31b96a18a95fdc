"""``POST /placement/advise`` and ``sovra placement advise``: authorised by policy,
recorded in the ledger with every workload's target, bad input a 400 naming the line."""

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
from tests.support.admin import bearer

INVENTORY = (Path(__file__).parent / "workloads.yaml").read_text()


@pytest.fixture
def client(instance: Instance) -> Iterator[TestClient]:
    with TestClient(create_app(instance)) as test_client:
        yield test_client


def _last(instance: Instance, action: str) -> dict[str, object]:
    bodies = [json.loads(row.body) for row in instance.ledger.tail(50)]
    found = [b for b in bodies if b["action"] == action]
    assert found, f"no {action} entry in the ledger"
    return found[-1]


def test_an_auditor_gets_advice_and_the_ledger_holds_every_placement(
        instance: Instance, client: TestClient) -> None:
    auditor = bearer(instance, "erin", "auditor")
    answer = client.post("/placement/advise", headers=auditor, json={"inventory": INVENTORY})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    targets = {p["workload"]: p["target"] for p in body["placements"]}
    assert targets["defence-logistics-planner"] == "disconnected"
    assert targets["bank-public-website"] == "public-cloud"
    entry = _last(instance, "placement.advise")
    assert entry["actor"] == "erin"
    assert entry["details"]["placements"] == targets  # type: ignore[index]
    assert entry["details"]["inventory_sha256"] == body["inventory_sha256"]  # type: ignore[index]
    assert body["ledger_seq"] == entry["seq"]


def test_an_analyst_is_refused_and_the_refusal_is_recorded(
        instance: Instance, client: TestClient) -> None:
    analyst = bearer(instance, "dave", "analyst")
    answer = client.post("/placement/advise", headers=analyst, json={"inventory": INVENTORY})
    assert answer.status_code == 403
    decision = _last(instance, "policy.decision")
    assert decision["actor"] == "dave" and decision["outcome"] == "denied"


def test_a_bad_inventory_is_a_400_naming_the_line_and_nothing_is_recorded(
        instance: Instance, client: TestClient) -> None:
    auditor = bearer(instance, "erin", "auditor")
    bad = INVENTORY.replace("regimes: [gdpr, nis2, health-data-hosting]",
                            "regimes: [gdpr, nis3]")
    answer = client.post("/placement/advise", headers=auditor, json={"inventory": bad})
    assert answer.status_code in (400, 422)
    assert "inventory:3: unknown regime 'nis3'" in answer.text
    assert not [b for b in (json.loads(r.body) for r in instance.ledger.tail(50))
                if b["action"] == "placement.advise"]


def test_the_cli_prints_the_table_and_records_the_advice(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    instance = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
    try:
        token = ensure_first_admin(instance)
    finally:
        instance.close()
    assert token is not None
    inventory = tmp_path / "inventory.yaml"
    inventory.write_text(INVENTORY)
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), "placement", "advise",
                                      str(inventory), "--json"],
                                env={"SOVRA_API_KEY": token, "SOVRA_CHECKPOINT_INTERVAL_S": "0"})
    assert result.exit_code == 0, result.output
    advice = json.loads(result.output)
    assert len(advice["placements"]) == 14
    assert advice["rules"] == "default_rules.yaml"
    rules = CliRunner().invoke(app, ["placement", "rules"])
    assert rules.exit_code == 0 and "secret-stays-disconnected" in rules.output
