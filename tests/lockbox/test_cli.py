"""``sovra access`` and ``sovra lockbox`` against a real embedded instance."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import load_settings
from sovra.instance import open_instance

ID = re.compile(r"\bar-[0-9a-f]{12}\b")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def keys(data_dir: Path) -> dict[str, str]:
    """Principals in the EU and their keys, made directly on the instance."""
    instance = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
    made = {}
    try:
        for principal, role in [("otto", "operator"), ("ann", "approver"),
                                ("abe", "approver"), ("bree", "breakglass"),
                                ("aud", "auditor")]:
            instance.identity.create_principal("test", principal, roles=[role],
                                               clearance="secret", jurisdiction="EU")
            made[principal] = instance.identity.create_api_key("test", principal).token
    finally:
        instance.close()
    return made


def sovra(data_dir: Path, key: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args],
                                env={"SOVRA_API_KEY": key, "SOVRA_CHECKPOINT_INTERVAL_S": "0",
                                     "COLUMNS": "200"})
    return result.exit_code, result.output


def test_request_approve_revoke_breakglass_status_and_report(data_dir: Path,
                                                             keys: dict[str, str]) -> None:
    code, out = sovra(data_dir, keys["otto"], "access", "request", "--scope", "instance",
                      "--action", "keys.status", "--reason", "INC-9 key health",
                      "--ticket", "INC-9", "--duration", "30m")
    assert code == 0, out
    assert "waits for 2 approval(s)" in out
    found = ID.search(out)
    assert found is not None
    request_id = found.group()
    code, out = sovra(data_dir, keys["ann"], "access", "list")
    assert code == 0 and request_id in out and "pending" in out
    assert sovra(data_dir, keys["ann"], "access", "approve", request_id)[0] == 0
    code, out = sovra(data_dir, keys["otto"], "access", "approve", request_id)
    assert code == 5 and "lockbox" in out
    code, out = sovra(data_dir, keys["abe"], "access", "approve", request_id,
                      "--comment", "checked INC-9")
    assert code == 0 and "now active" in out
    code, out = sovra(data_dir, keys["ann"], "access", "show", request_id)
    shown = json.loads(out)
    assert shown["state"] == "active" and [v["voter"] for v in shown["votes"]] == ["ann", "abe"]
    assert sovra(data_dir, keys["ann"], "access", "revoke", request_id, "--reason", "done")[0] == 0
    code, out = sovra(data_dir, keys["ann"], "access", "show", request_id)
    assert json.loads(out)["state"] == "revoked"

    code, out = sovra(data_dir, keys["bree"], "access", "breakglass", "--scope", "instance",
                      "--action", "keys.status", "--reason", "P1 outage")
    assert code == 0 and "BREAK-GLASS" in out
    code, out = sovra(data_dir, keys["ann"], "lockbox", "status")
    assert code == 0 and "live grants: 1" in out

    # The report is ledger evidence: auditors (and admins) read it, approvers do not.
    assert sovra(data_dir, keys["ann"], "lockbox", "report")[0] == 5
    code, out = sovra(data_dir, keys["aud"], "lockbox", "report", "--since", "2000-01-01")
    assert code == 0, out
    report = json.loads(out)
    assert report["grants"][0]["id"] == request_id
    story = report["grants"][0]
    assert [e["action"] for e in story["lifecycle"]] == [
        "lockbox.request", "lockbox.approve", "lockbox.approve", "lockbox.approve",
        "lockbox.revoke"]
    assert all(e["inclusion_proof"] for e in story["lifecycle"])
    assert story["ended"]["state"] == "revoked" and story["ended"]["by"] == "ann"


@pytest.mark.parametrize(("args", "rule"), [
    (("--duration", "9h"), "lockbox.duration-cap"),
    (("--duration", "soon"), "cannot read duration"),
    (("--scope", "planet:mars"), "lockbox.known-scope"),
])
def test_bad_input_exits_2_and_names_the_rule(data_dir: Path, keys: dict[str, str],
                                              args: tuple[str, ...], rule: str) -> None:
    base = {"--scope": "instance", "--duration": "1h"}
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    flat = [x for pair in base.items() for x in pair]
    code, out = sovra(data_dir, keys["otto"], "access", "request", *flat,
                      "--action", "keys.status", "--reason", "r")
    assert code == 2 and rule in out
