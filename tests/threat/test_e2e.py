"""Threat detection end to end, through the real ``sovra up`` process and real HTTP.

The test pack arrives as a signed bundle (imported over the API); events are made
through the real API (bad keys, refused approvals, a privileged change, an EICAR upload);
a hunt raises exactly the expected alerts, and no others; triage goes over HTTP; the
CLI exports the alerts as syslog to a real listener on loopback.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import sovra_command, sovra_up
from tests.threat.conftest import EICAR, pack_spec
from tests.transfer.conftest import Workshop

pytestmark = pytest.mark.e2e


def test_signed_pack_api_events_alerts_triage_and_syslog(tmp_path: Path,
                                                          workshop: Workshop) -> None:
    bundle = workshop.build(pack_spec(tmp_path / "pack-src"))
    root = (workshop.repo / "roots" / "1.root.json").read_bytes()
    with sovra_up(tmp_path / "data") as server, \
            httpx.Client(base_url=server.url, timeout=60) as http:
        admin = server.headers()
        http.post("/bundles/trust", headers=admin,
                  files={"root": ("1.root.json", root)}).raise_for_status()
        imported = http.post("/bundles/import", headers=admin,
                             files={"bundle": (bundle.name, bundle.read_bytes())})
        imported.raise_for_status()
        status = http.get("/threat/status", headers=admin).json()
        assert status["rules"] == 9 and status["problems"] == []
        assert {p["kind"] for p in status["packs"]} == {"sigma", "stix", "misp", "yara"}

        for i in range(6):  # an API key failing repeatedly
            bad = server.headers(f"sk-sovra-notakey{i:02d}_x")
            assert http.get("/alerts", headers=bad).status_code == 401
        for path in ("/policy/versions/1/approve", "/bundles/0123456789abcdef/approve",
                     "/identity/changes/nonexistent/approve"):  # an admin may not approve
            assert http.post(path, headers=admin).status_code == 403
        change = http.post("/identity/principals", headers=admin, json={
            "principal_id": "mallory", "kind": "user", "roles": ["admin"],
            "clearance": "secret"})
        assert change.status_code == 202
        http.post("/data/collections", headers=admin, json={
            "id": "inbox", "owner": "SOC", "purpose": "triage",
            "subject_categories": ["staff"], "data_categories": ["reports"],
            "retention_days": 30, "jurisdiction": "EU", "ceiling": "secret"}).raise_for_status()
        document = b"Q3.\n" + EICAR + b"\n"
        upload = http.post("/data/collections/inbox/documents", headers=admin,
                           files={"file": ("report.txt", document)})
        assert upload.status_code == 422
        assert "quarantined, not indexed" in upload.text

        hunt = http.post("/threat/hunt", headers=admin)
        hunt.raise_for_status()
        assert hunt.json()["problems"] == []
        alerts = http.get("/alerts", headers=admin).json()
        # Titles without what follows the rule (an indicator's origin, a YARA rule's
        # namespace, which is named after the pack file).
        by_title = {re.sub(r" \(.*| yara_\S+", "", a["title"]): a for a in alerts}
        admin_id = by_title["Privileged change requested"]["detail"]["group"]["principal"]
        assert {t: a["detail"]["group"] for t, a in by_title.items()} == {
            "API key failing repeatedly": {"source_ip": "127.0.0.1"},
            "Request from listed address 127.0.0.1": {"source_ip": "127.0.0.1"},
            "Refused on many resources": {"principal": admin_id},
            "Probing - failed authentication and refused authorisation": {},
            "Privileged change requested": {"principal": admin_id},
            "Quarantined report.txt: yara": {"sha256": hashlib.sha256(document).hexdigest()},
        }
        assert len(alerts) == 6

        failing = by_title["API key failing repeatedly"]["id"]
        shown = http.get(f"/alerts/{failing}", headers=admin).json()
        assert len(shown["events"]) == 6
        assert http.post(f"/alerts/{failing}/ack", headers=admin).json()["status"] == \
            "acknowledged"
        assert http.post(f"/alerts/{failing}/close", headers=admin,
                         json={"reason": ""}).status_code == 422
        closed = http.post(f"/alerts/{failing}/close", headers=admin,
                           json={"reason": "scanner test, key never existed"})
        assert closed.json()["status"] == "closed"

        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
            listener.bind(("127.0.0.1", 0))
            listener.settimeout(30)
            port = listener.getsockname()[1]
            env = {**os.environ, "SOVRA_API_KEY": server.admin_key, "COLUMNS": "200"}
            subprocess.run([*sovra_command(), "--data-dir", str(server.data_dir), "threat",
                            "export", "--syslog", f"127.0.0.1:{port}", "--status", "open"],
                           env=env, check=True, capture_output=True, timeout=120)
            received = [listener.recv(65536) for _ in range(5)]
        assert all(m.startswith((b"<8", b"<9")) and b"[sovra@32473 " in m for m in received)
        assert {m.split(b'alert="')[1].split(b'"')[0].decode() for m in received} == {
            a["id"] for a in alerts if a["id"] != failing}

        base = [*sovra_command(), "--data-dir", str(server.data_dir)]
        listed = subprocess.run([*base, "alerts", "list", "--status", "open", "--json"],
                                env=env, check=True, capture_output=True, text=True,
                                timeout=120)
        assert {a["id"] for a in json.loads(listed.stdout)} == {
            a["id"] for a in alerts if a["id"] != failing}
        other = next(a["id"] for a in alerts if a["id"] != failing)
        refused = subprocess.run([*base, "alerts", "close", other], env=env,
                                 capture_output=True, text=True, timeout=120)
        assert refused.returncode != 0 and "--reason" in refused.stdout + refused.stderr
        subprocess.run([*base, "alerts", "close", other, "--reason", "known scanner"],
                       env=env, check=True, capture_output=True, timeout=120)
        shown = http.get(f"/alerts/{other}", headers=admin).json()
        assert (shown["status"], shown["close_reason"]) == ("closed", "known scanner")
