"""``GET /continuity/status`` through the real app: auditors and admins read it, others
are refused (and the refusal is a recorded policy decision)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.continuity import create_backup
from tests.continuity.conftest import Source


def test_status_for_an_auditor_and_not_for_an_analyst(source: Source, tmp_path: Path) -> None:
    inst = source.instance
    create_backup(inst, actor="test", dest=tmp_path / "b")
    ident = inst.identity
    ident.create_principal("test", "audrey", roles=["auditor"])
    ident.create_principal("test", "ann", roles=["analyst"])
    auditor = ident.create_api_key("test", "audrey").token
    analyst = ident.create_api_key("test", "ann").token
    with TestClient(create_app(inst)) as client:
        shown = client.get("/continuity/status",
                           headers={"Authorization": f"Bearer {auditor}"})
        assert shown.status_code == 200, shown.text
        body = shown.json()
        assert body["last_backup"]["ledger_size"] > 0
        assert any("no restore drill" in w for w in body["warnings"])
        refused = client.get("/continuity/status",
                             headers={"Authorization": f"Bearer {analyst}"})
        assert refused.status_code == 403
        assert client.get("/continuity/status").status_code == 401
