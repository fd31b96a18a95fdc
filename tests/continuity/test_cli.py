"""`sovra backup|restore|continuity` end to end through the real Typer app.

A custodian-mode instance (2 of 2 shares) with one document: back up, list, verify with
the log key, run a drill (backup, restore into scratch, checks, RTO and RPO), read the
status, restore onto a new directory with an outside checkpoint, prune.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import load_settings
from sovra.data.embed import Embedder
from sovra.data.values import CollectionSpec
from sovra.instance import open_instance
from sovra.policy import Classification
from tests.continuity.conftest import ADMIN


def test_backup_verify_drill_status_restore_prune(tmp_path: Path, embedder: Embedder) -> None:
    runner = CliRunner()
    data, shares = tmp_path / "data", tmp_path / "custodians"
    base = ["--data-dir", str(data)]

    env: dict[str, str] = {}

    def sovra(*args: str, code: int = 0) -> str:
        done = runner.invoke(app, [*base, *args], env=env)
        assert done.exit_code == code, done.output
        return done.output

    initialized = sovra("init", "--shares", "2", "--threshold", "2", "--share-dir",
                        str(shares))
    admin_key = re.search(r"sk-sovra-\S+", initialized).group(0)
    share_args = [a for f in sorted(shares.glob("sovra-share-*.txt"))
                  for a in ("--share-file", str(f))]
    inst = open_instance(load_settings(data_dir=data, checkpoint_interval_s=0.0))
    try:
        for f in sorted(shares.glob("sovra-share-*.txt")):
            inst.keys.submit_share(f.read_text())
        inst.data.use_embedder(embedder)
        inst.data.create_collection(ADMIN, CollectionSpec(
            id="hr", owner="HR", purpose="policies", subject_categories=("employees",),
            data_categories=("contact",), retention_days=365, jurisdiction="EU-ES",
            ceiling=Classification.SECRET))
        inst.data.ingest(ADMIN, "hr", "leave.txt",
                         b"Staff receive twenty-five days of annual leave each year.")
    finally:
        inst.close()

    analyst_key = _analyst_key(data)
    env["SOVRA_API_KEY"] = analyst_key  # the CLI asks the policy as the API does
    denied = sovra("backup", "create", *share_args, code=5)
    assert "PermissionDeniedError" in denied and "continuity.backup" in denied
    assert "PermissionDeniedError" in sovra("continuity", "drill", *share_args, code=5)
    env["SOVRA_API_KEY"] = admin_key
    sealed = sovra("backup", "create", code=4)  # custodian mode: this process is sealed
    assert "SealedError" in sealed
    created = sovra("backup", "create", *share_args)
    backup_id = re.search(r"backup (\S+):", created).group(1)
    log_key = sovra("ledger", "key").strip()
    assert backup_id in sovra("backup", "list")
    backup_dir = data / "backups" / backup_id
    assert "valid" in sovra("backup", "verify", str(backup_dir), "--log-key", log_key)

    drill = json.loads(sovra("continuity", "drill", "--json", *share_args))
    assert drill["passed"], drill
    names = {c["name"] for c in drill["checks"] if c["passed"]}
    assert {"restore", "ledger-consistency", "sqlite-integrity", "documents-decrypt",
            "retrieval", "ledger-verify", "chat"} <= names  # the bundled model answered
    assert drill["notes"] == []  # every check was evidenced
    assert drill["rto_s"] >= 0 and drill["rpo_s"] is not None
    assert Path(drill["report_path"]).is_file()
    assert not any((data / "continuity" / "tmp").iterdir())  # the scratch is gone

    status = json.loads(sovra("continuity", "status", "--json"))
    assert status["last_drill"]["drill_id"] == drill["drill_id"]
    assert not [w for w in status["warnings"] if "drill" in w]

    checkpoint = tmp_path / "checkpoint.note"
    checkpoint.write_text(sovra("ledger", "checkpoint"))
    env["SOVRA_API_KEY"] = analyst_key  # the restored instance's policy denies an analyst
    refused = sovra("restore", str(backup_dir), "--target", str(tmp_path / "refused"),
                    "--log-key", log_key, *share_args, code=5)
    assert "PermissionDeniedError" in refused and not (tmp_path / "refused").exists()
    env["SOVRA_API_KEY"] = admin_key
    target = tmp_path / "restored"
    held = sovra("restore", str(backup_dir), "--target", str(target), "--log-key", log_key,
                 "--checkpoint", str(checkpoint), *share_args, code=1)
    assert "ROLLBACK DETECTED" in held and (target / "continuity" / "hold.json").is_file()
    restored = open_instance(load_settings(data_dir=target, checkpoint_interval_s=0.0))
    try:
        bodies = [bytes(r.body) for r in restored.ledger.tail(3)]
    finally:
        restored.close()
    assert b'"continuity.restore"' in bodies[0] and b'"allow' in bodies[0]  # the decision
    assert b'"continuity.restore"' in bodies[1]
    held_status = runner.invoke(app, ["--data-dir", str(target), "continuity", "status"])
    assert "HELD after a restore" in held_status.output

    plan = sovra("backup", "prune", "--keep-daily", "1", "--keep-weekly", "0")
    assert "keep" in plan and "pruned" in plan  # the drill's backup is newer: this one goes
    assert not backup_dir.exists()


def _analyst_key(data: Path) -> str:
    """A second principal the default policy grants no continuity action."""
    inst = open_instance(load_settings(data_dir=data, checkpoint_interval_s=0.0))
    try:
        inst.identity.create_principal("test", "bob", roles=("analyst",))
        return inst.identity.create_api_key("test", "bob").token
    finally:
        inst.close()
