"""`sovra data ...` end to end through the real Typer app, on an embedded dev-mode instance."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import Settings
from sovra.data import verify_certificate
from tests.data.files import make_pdf


def test_ingest_folder_search_erase(sqlite_settings: Settings, cli_admin_key: str,
                                    tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--data-dir", str(sqlite_settings.data_dir), "data"]
    key = ["--api-key", cli_admin_key]
    created = runner.invoke(app, [*base, "collection", "create", "hr", *key, "--owner", "HR",
                                  "--purpose", "contracts", "--subjects", "employees",
                                  "--data", "contact", "--retention-days", "365",
                                  "--jurisdiction", "EU-ES"])
    assert created.exit_code == 0, created.output
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.txt").write_text("Write to maria.lopez@example.es about the canteen menu.")
    (folder / "b.pdf").write_bytes(make_pdf(["The canteen opens at noon."]))
    (folder / "c.pdf").write_bytes(b"%PDF-1.4 truncated")
    (folder / "d.txt").write_bytes(b"")
    ingested = runner.invoke(app, [*base, "ingest", "hr", str(folder), *key])
    assert ingested.exit_code == 1, ingested.output  # some files failed: says so
    assert "2 ingested, 0 unchanged, 2 failed" in ingested.output
    assert "c.pdf" in ingested.output and "empty file" in ingested.output
    found = runner.invoke(app, [*base, "search", "when does the canteen open", *key])
    assert found.exit_code == 0 and "canteen opens at noon" in found.output
    out = tmp_path / "cert.json"
    erased = runner.invoke(app, [*base, "erase", "--subject", "maria.lopez@example.es", *key,
                                 "--out", str(out)])
    assert erased.exit_code == 0, erased.output
    assert "erased 1 documents" in erased.output
    body = verify_certificate(out.read_text())
    assert len(body["erased"]) == 1  # type: ignore[arg-type]
    verified = runner.invoke(app, ["data", "verify-certificate", str(out)])
    assert verified.exit_code == 0 and "valid" in verified.output
    retention = runner.invoke(app, [*base, "retention", "run", *key])
    assert retention.exit_code == 0 and "0 deleted" in retention.output


def test_wrong_key_is_denied(sqlite_settings: Settings, cli_admin_key: str) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(sqlite_settings.data_dir), "data",
                                      "collection", "list", "--api-key", "sk-sovra-nope"])
    assert result.exit_code == 5
