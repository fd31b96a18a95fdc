"""`sovra data ingest` prints level 0 (public) as "public", not as no level (issue 13)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import Settings
from sovra.identity import ensure_first_admin
from sovra.instance import open_instance
from sovra.keys import start_for_up


def test_public_file_is_listed_as_public(sqlite_settings: Settings, tmp_path: Path) -> None:
    inst = open_instance(sqlite_settings)
    try:
        start_for_up(inst.keys)
        token = ensure_first_admin(inst)
    finally:
        inst.close()
    assert token is not None
    runner = CliRunner()
    base = ["--data-dir", str(sqlite_settings.data_dir), "data"]
    key = ["--api-key", token]
    created = runner.invoke(app, [*base, "collection", "create", "menus", *key, "--owner",
                                  "Canteen", "--purpose", "menus", "--subjects", "staff",
                                  "--data", "none", "--retention-days", "30",
                                  "--jurisdiction", "EU-DE", "--ceiling", "public"])
    assert created.exit_code == 0, created.output
    menu = tmp_path / "menu.txt"
    menu.write_text("Lunch menu: soup, bread and salad daily.")
    ingested = runner.invoke(app, [*base, "ingest", "menus", str(menu), *key])
    assert ingested.exit_code == 0, ingested.output
    row = next(line for line in ingested.output.splitlines() if "menu.txt" in line)
    assert "public" in row.split(), row
