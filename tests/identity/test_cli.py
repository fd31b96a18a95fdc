"""``sovra principal``, ``sovra group``, ``sovra apikey``, ``sovra policy propose/approve``
against a real embedded instance, acting as the owner of SOVRA_API_KEY."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sovra.cli.app import app

KEY = re.compile(r"sk-sovra-[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def sovra(data_dir: Path, key: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args],
                                env={"SOVRA_API_KEY": key, "SOVRA_CHECKPOINT_INTERVAL_S": "0",
                                     "COLUMNS": "200"})
    return result.exit_code, result.output


def test_principals_groups_and_keys_from_the_command_line(data_dir: Path,
                                                          cli_admin_key: str) -> None:
    code, out = sovra(data_dir, cli_admin_key, "principal", "create", "carol", "--role",
                      "approver", "--clearance", "secret")
    assert code == 0 and "approver" in out
    assert sovra(data_dir, cli_admin_key, "group", "create", "auditors", "--role",
                 "auditor")[0] == 0
    assert sovra(data_dir, cli_admin_key, "group", "add", "auditors", "carol")[0] == 0
    code, out = sovra(data_dir, cli_admin_key, "group", "members", "auditors")
    assert code == 0 and "carol" in out
    code, out = sovra(data_dir, cli_admin_key, "apikey", "create", "carol", "--label", "cli")
    assert code == 0
    carol_key = KEY.search(out)
    assert carol_key is not None
    code, out = sovra(data_dir, cli_admin_key, "apikey", "list", "--principal", "carol")
    assert code == 0 and carol_key.group()[:21] in out and carol_key.group() not in out
    # carol is an approver and auditor, not an admin: managing principals is denied (5).
    code, out = sovra(data_dir, carol_key.group(), "principal", "list")
    assert code == 5 and "PermissionDeniedError" in out
    assert sovra(data_dir, cli_admin_key, "apikey", "revoke", carol_key.group()[:21])[0] == 0
    code, out = sovra(data_dir, carol_key.group(), "policy", "show")
    assert code == 5 and "revoked" in out


def test_propose_and_approve_need_two_people(data_dir: Path, cli_admin_key: str,
                                             tmp_path: Path) -> None:
    sovra(data_dir, cli_admin_key, "principal", "create", "carol", "--role", "approver")
    carol = KEY.search(sovra(data_dir, cli_admin_key, "apikey", "create", "carol")[1])
    assert carol is not None
    code, text = sovra(data_dir, cli_admin_key, "policy", "show")
    assert code == 0 and text.startswith("// version 1 (active)")
    proposal = tmp_path / "next.cedar"
    proposal.write_text(text + '\n@id("x")\npermit(principal in Role::"auditor", '
                        'action == Action::"models.use", resource);\n')
    code, out = sovra(data_dir, cli_admin_key, "policy", "propose", str(proposal))
    assert code == 0 and "proposed version 2" in out
    assert sovra(data_dir, cli_admin_key, "policy", "approve", "2")[0] == 5
    code, out = sovra(data_dir, carol.group(), "policy", "approve", "2")
    assert code == 0 and "version 2 is active" in out
