"""Governed SQL and the outbound diode end to end: the real ``sovra up`` process, real
HTTP, and the receiving side's ``sovra export verify`` on a second, separate data
directory that shares nothing with the site."""

from __future__ import annotations

import csv
import io
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pyarrow.ipc
import pytest

from tests.analytics.conftest import STAFF_CSV
from tests.e2e.server import Server, sovra_command, sovra_up
from tests.support.principals import cli_principal

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sovra_up(tmp_path_factory.mktemp("analytics") / "data") as running:
        yield running


def collection(http: httpx.Client, admin: dict[str, str], name: str) -> None:
    http.post("/data/collections", headers=admin, json={
        "id": name, "owner": "HR", "purpose": "workforce analytics",
        "subject_categories": ["employees"], "data_categories": ["contact", "bank details"],
        "retention_days": 365, "jurisdiction": "EU", "ceiling": "secret",
    }).raise_for_status()


def verify_offline(bundle: Path, root: Path, elsewhere: Path, out: Path
                   ) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOVRA_DATA_DIR": str(elsewhere), "COLUMNS": "200"}
    env.pop("SOVRA_API_KEY", None)
    return subprocess.run([*sovra_command(), "export", "verify", str(bundle), "--root",
                           str(root), "--out", str(out)], env=env, capture_output=True,
                          text=True, timeout=120)


def test_governed_sql_and_an_export_leave_only_as_approved(server: Server,
                                                            tmp_path: Path) -> None:
    admin = server.headers()
    analyst = cli_principal(server, "nia", "analyst", "internal")
    ann = cli_principal(server, "ann", "approver")
    abe = cli_principal(server, "abe", "approver")
    with httpx.Client(base_url=server.url, timeout=120) as http:
        collection(http, admin, "hr")
        http.post("/data/collections/hr/documents", headers=admin,
                  files={"file": ("staff.csv", STAFF_CSV)}).raise_for_status()
        collection(http, admin, "vault")
        http.post("/data/collections/vault/documents", headers=admin,
                  data={"classification": "confidential"},
                  files={"file": ("board.csv", b"topic,amount\nfalcon,1000000\n")}
                  ).raise_for_status()

        # Governed SQL: the IBAN column is masked for an internal-clearance analyst.
        got = http.post("/analytics/query", headers=analyst, json={
            "sql": "SELECT name, iban, salary FROM hr.staff ORDER BY salary"})
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["masked"] == ["hr.staff.iban"] and body["classification"] == "public"
        assert all(row[1].startswith("masked:") for row in body["rows"])
        as_csv = http.post("/analytics/query", headers=analyst, json={
            "sql": "SELECT dept, count(*) AS n FROM hr.staff GROUP BY dept ORDER BY dept",
            "format": "csv"})
        assert list(csv.reader(io.StringIO(as_csv.text))) == [
            ["dept", "n"], ["ops", "1"], ["sales", "2"]]
        as_arrow = http.post("/analytics/query", headers=analyst, json={
            "sql": "SELECT dept, count(*) AS n FROM hr.staff GROUP BY dept ORDER BY dept",
            "format": "arrow"})
        assert as_arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
        arrow = pyarrow.ipc.open_stream(as_arrow.content).read_all()
        assert arrow.to_pydict() == {"dept": ["ops", "sales"], "n": [1, 2]}
        # A question in words goes to the AI room's governed chat: an unknown model is
        # a clear 4xx there, before any SQL exists.
        asked = http.post("/analytics/ask", headers=analyst, json={
            "question": "How many people work in sales?", "collections": ["hr"],
            "model": "no-such-model", "run": False})
        assert 400 <= asked.status_code < 500, asked.text
        assert "no-such-model" in asked.json()["error"]["message"]
        escape = http.post("/analytics/query", headers=analyst, json={
            "sql": "SELECT * FROM read_csv('/etc/passwd')"})
        assert escape.status_code == 400 and "not a table" in escape.json()["error"]["message"]

        # The diode: create, refuse the requester's approval, two approvers, release.
        made = http.post("/analytics/exports", headers=analyst,
                         json={"kind": "portability", "collection": "hr"})
        assert made.status_code == 201, made.text
        export_id = made.json()["id"]
        early = http.get(f"/analytics/exports/{export_id}/bundle", headers=ann)
        assert early.status_code == 409
        own = http.post(f"/analytics/exports/{export_id}/approve", headers=analyst)
        assert own.status_code == 403
        review = http.get(f"/analytics/exports/{export_id}/review", headers=ann).json()
        assert "DE89370400440532013000" in review["diff"] and "[IBAN]" in review["diff"]
        first = http.post(f"/analytics/exports/{export_id}/approve", headers=ann).json()
        assert first["state"] == "pending"
        second = http.post(f"/analytics/exports/{export_id}/approve", headers=abe).json()
        assert second["state"] == "released"
        bundle = tmp_path / "export.tar"
        got_bundle = http.get(f"/analytics/exports/{export_id}/bundle", headers=ann)
        assert got_bundle.status_code == 200
        bundle.write_bytes(got_bundle.content)
        root = tmp_path / "site-export-root.json"
        root.write_bytes(http.get("/analytics/exports/root", headers=ann).content)

        # Above the ceiling nothing leaves, even for a secret-cleared admin.
        refused = http.post("/analytics/exports", headers=admin,
                            json={"kind": "portability", "collection": "vault"})
        assert refused.status_code == 403
        assert "above the export ceiling" in refused.json()["error"]["message"]

    # The CLI runs the same governed query on the site.
    key = analyst["Authorization"].removeprefix("Bearer ")
    cli = subprocess.run(
        [*sovra_command(), "--data-dir", str(server.data_dir), "sql",
         "SELECT name, iban FROM hr.staff ORDER BY name", "--format", "csv"],
        env={**os.environ, "SOVRA_API_KEY": key, "COLUMNS": "200"}, capture_output=True,
        text=True, timeout=120)
    assert cli.returncode == 0, cli.stdout + cli.stderr
    rows = list(csv.reader(io.StringIO(cli.stdout)))
    assert rows[0] == ["name", "iban"] and rows[1][0] == "Anna Keller"
    assert rows[1][1].startswith("masked:")

    # The compliance room's signed report leaves only through the diode, from the CLI too.
    report = subprocess.run(
        [*sovra_command(), "--data-dir", str(server.data_dir), "export", "create",
         "compliance", "--subject", "2026-01-01.."],
        env={**os.environ, "SOVRA_API_KEY": server.admin_key, "COLUMNS": "200"},
        capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stdout + report.stderr
    assert "(compliance, internal) waits for two approvers" in report.stdout

    # The receiving side: another data directory, no server, the pinned root only.
    elsewhere = tmp_path / "receiver-data"
    verified = verify_offline(bundle, root, elsewhere, tmp_path / "received")
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "VERIFIED" in verified.stdout
    staff = (tmp_path / "received" / "hr__staff.csv").read_text()
    assert "[IBAN]" in staff and "DE89370400440532013000" not in staff
    assert not (elsewhere / "sovra.db").exists()

    tampered = tmp_path / "tampered.tar"
    data = bytearray(bundle.read_bytes())
    at = data.index(b"[IBAN]")
    data[at:at + 6] = b"[XXXX]"
    tampered.write_bytes(bytes(data))
    rejected = verify_offline(tampered, root, elsewhere, tmp_path / "rejected")
    assert rejected.returncode != 0
    assert "SHA-256" in rejected.stdout + rejected.stderr
