"""Documented commands that no other test ran, each run as an operator would (docs and
``sovra --help``): ``db upgrade|status``, ``principal disable|enable``, ``data hold
set|release``. Against a real SQLite data directory, through the real Typer app."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import Settings
from sovra.instance import open_instance

KEY = re.compile(r"sk-sovra-[0-9a-f]{12}_[A-Za-z0-9_-]{43}")


def _sovra(data_dir: Path, *args: str, key: str | None = None) -> tuple[int, str]:
    env = {"SOVRA_CHECKPOINT_INTERVAL_S": "0", "COLUMNS": "200"}
    if key is not None:
        env["SOVRA_API_KEY"] = key
    result = CliRunner().invoke(app, ["--data-dir", str(data_dir), *args], env=env)
    return result.exit_code, result.output


def _recorded(settings: Settings, action: str) -> list[dict[str, object]]:
    inst = open_instance(settings)
    try:
        entries = [json.loads(row.body) for row in inst.ledger.tail(inst.ledger.size)]
    finally:
        inst.close()
    return [e for e in entries if e["action"] == action]


def test_db_status_on_a_fresh_directory_says_what_to_run(tmp_path: Path) -> None:
    code, out = _sovra(tmp_path / "data", "db", "status")
    assert code != 0
    assert "Traceback" not in out
    assert "MigrationError" in out and "sovra db upgrade" in out


def test_db_upgrade_then_status_is_up_to_date(tmp_path: Path) -> None:
    data = tmp_path / "data"
    code, out = _sovra(data, "db", "upgrade")
    assert code == 0 and out.startswith("database at ")
    heads = out.removeprefix("database at ").strip().split(", ")
    assert "ledger_0002" in heads or any(h.startswith("ledger_") for h in heads)
    assert _sovra(data, "db", "status") == (0, "up to date\n")
    assert _sovra(data, "db", "upgrade")[0] == 0  # idempotent


def test_principal_disable_stops_its_keys_and_enable_restores_them(
        sqlite_settings: Settings, cli_admin_key: str) -> None:
    data = sqlite_settings.data_dir
    assert _sovra(data, "principal", "create", "erin", "--role", "analyst",
                  key=cli_admin_key)[0] == 0
    code, out = _sovra(data, "apikey", "create", "erin", key=cli_admin_key)
    found = KEY.search(out)
    assert code == 0 and found is not None
    erin = found.group()
    before = _sovra(data, "data", "collection", "list", key=erin)
    assert before[0] == 0, before
    code, out = _sovra(data, "principal", "disable", "erin", key=cli_admin_key)
    assert code == 0, out
    code, out = _sovra(data, "data", "collection", "list", key=erin)
    assert code == 5 and "AuthenticationError" in out and "disabled" in out  # at once
    assert _sovra(data, "principal", "enable", "erin", key=cli_admin_key)[0] == 0
    assert _sovra(data, "data", "collection", "list", key=erin) == before
    changes = [(e["outcome"], e["resource"]) for e in
               _recorded(sqlite_settings, "identity.principal.disable")
               + _recorded(sqlite_settings, "identity.principal.enable")]
    assert changes == [("success", "principal:erin")] * 2, changes


def test_data_hold_blocks_erasure_until_released(sqlite_settings: Settings, cli_admin_key: str,
                                                 tmp_path: Path) -> None:
    data = sqlite_settings.data_dir
    assert _sovra(data, "data", "collection", "create", "hr", "--owner", "HR", "--purpose",
                  "contracts", "--subjects", "employees", "--data", "contact",
                  "--retention-days", "365", "--jurisdiction", "EU-ES",
                  key=cli_admin_key)[0] == 0
    doc = tmp_path / "a.txt"
    doc.write_text("Write to maria.lopez@example.es about the canteen menu.")
    assert _sovra(data, "data", "ingest", "hr", str(doc), key=cli_admin_key)[0] == 0
    code, out = _sovra(data, "data", "hold", "set", "hr", "--reason", "case 2026-17",
                       key=cli_admin_key)
    held = re.search(r"legal hold (\d+) set on hr", out)
    assert code == 0 and held is not None, out
    erase = ("data", "erase", "--subject", "maria.lopez@example.es", "--out",
             str(tmp_path / "cert.json"))
    code, out = _sovra(data, *erase, key=cli_admin_key)
    assert code == 0 and "erased 0 documents, withheld 1" in out, out  # the hold blocks it
    code, out = _sovra(data, "data", "hold", "release", "hr", held.group(1), key=cli_admin_key)
    assert (code, out.strip()) == (0, f"legal hold {held.group(1)} released")
    code, out = _sovra(data, *erase, key=cli_admin_key)
    assert code == 0 and "erased 1 documents" in out, out
    holds = [(e["action"], e["outcome"]) for e in _recorded(sqlite_settings, "data.hold.set")
             + _recorded(sqlite_settings, "data.hold.release")]
    assert holds == [("data.hold.set", "success"), ("data.hold.release", "success")], holds
