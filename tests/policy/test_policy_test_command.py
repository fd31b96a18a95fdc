"""``sovra policy test FILE`` and ``sovra policy validate FILE``: offline, exit 0/1."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from typer.testing import CliRunner

from sovra.cli.app import app

CASES = {
    "cases": [
        {"name": "analyst reads internal", "action": "documents.read",
         "principal": {"id": "alice", "roles": ["analyst"], "clearance": "confidential"},
         "resource": {"type": "Document", "id": "d1",
                      "attributes": {"classification": "internal"}},
         "expected": "allow"},
        {"name": "analyst cannot read secret", "action": "documents.read",
         "principal": {"id": "alice", "roles": ["analyst"], "clearance": "confidential"},
         "resource": {"type": "Document", "id": "d2",
                      "attributes": {"classification": "secret"}},
         "expected": "deny"},
        {"name": "operator with grant sees key status", "action": "keys.status",
         "principal": {"id": "op", "roles": ["operator"]},
         "resource": {"type": "Keys"}, "context": {"access_grant_approved": True},
         "expected": "allow"},
    ]
}


def test_passing_cases_exit_0(tmp_path: Path) -> None:
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(CASES))
    result = CliRunner().invoke(app, ["policy", "test", str(path)])
    assert result.exit_code == 0, result.output
    assert "3 passed, 0 failed" in result.output


def test_a_wrong_expectation_exits_1_and_names_the_case(tmp_path: Path) -> None:
    broken = json.loads(json.dumps(CASES))
    broken["cases"][1]["expected"] = "allow"
    path = tmp_path / "cases.json"
    path.write_text(json.dumps(broken))
    result = CliRunner().invoke(app, ["policy", "test", str(path)])
    assert result.exit_code == 1
    assert "FAIL analyst cannot read secret" in result.output
    assert "clearance-at-least-classification" in result.output


def test_cases_run_against_the_customers_own_policy_file(tmp_path: Path) -> None:
    (tmp_path / "mine.cedar").write_text(
        '@id("only-alice")\npermit(principal == Principal::"alice", '
        'action == Action::"documents.read", resource);\n')
    spec = {"policies": ["mine.cedar"], "cases": [
        {"name": "alice", "principal": {"id": "alice"}, "action": "documents.read",
         "resource": {"type": "Document", "id": "d"}, "expected": "allow"},
        {"name": "bob", "principal": {"id": "bob"}, "action": "documents.read",
         "resource": {"type": "Document", "id": "d"}, "expected": "deny"}]}
    path = tmp_path / "cases.yaml"
    path.write_text(yaml.safe_dump(spec))
    result = CliRunner().invoke(app, ["policy", "test", str(path)])
    assert result.exit_code == 0, result.output


def test_an_invalid_policy_file_reports_its_position(tmp_path: Path) -> None:
    bad = tmp_path / "bad.cedar"
    bad.write_text('permit(principal, action, resource);\n\npermitt(principal, action, '
                   'resource);\n')
    result = CliRunner().invoke(app, ["policy", "validate", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:3:1: invalid policy effect" in result.output.replace("\n", "")
    good = tmp_path / "good.cedar"
    good.write_text('permit(principal in Role::"admin", action, resource);\n')
    assert CliRunner().invoke(app, ["policy", "validate", str(good)]).exit_code == 0
