"""``sovra ledger`` end to end on an embedded instance: export, verify (exit codes),
checkpoint, consistency, the offline witness and cosign-import."""

from __future__ import annotations

import base64
import io
import json
import tarfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import Settings
from sovra.instance import open_instance

runner = CliRunner()


@pytest.fixture
def data_dir(sqlite_settings: Settings) -> Path:
    opened = open_instance(sqlite_settings)
    try:
        for i in range(12):
            opened.ledger.append("user:a", "data.ingest", "c", "success", {"i": i})
    finally:
        opened.close()
    return sqlite_settings.data_dir


def sovra(data_dir: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(data_dir), "ledger", *args])
    return result.exit_code, result.output


def _rewrite_member(archive: Path, name: str, change: bytes, to: bytes) -> Path:
    out = archive.with_name("tampered.tar")
    with tarfile.open(archive) as src, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as dst:
        for info in src:
            handle = src.extractfile(info)
            assert handle is not None
            data = handle.read()
            if info.name == name:
                data = data.replace(change, to, 1)
                info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
    return out


def test_export_then_verify_exit_codes(data_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "ledger.tar"
    code, out = sovra(data_dir, "export", str(archive))
    assert code == 0, out
    code, key = sovra(data_dir, "key")
    assert code == 0
    code, out = sovra(data_dir, "verify", str(archive), "--log-key", key.strip(), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["valid"] and report["entries"] >= 12 and report["unsigned_entries"] == 0

    tampered = _rewrite_member(archive, "entries.jsonl", b'"i":3', b'"i":4')
    code, out = sovra(data_dir, "verify", str(tampered))
    assert code == 1
    assert "INVALID" in out and "entry" in out

    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar archive" * 40)
    code, out = sovra(data_dir, "verify", str(garbage))
    assert code == 3, out


def test_verify_pins_a_key_with_its_origin(data_dir: Path, tmp_path: Path) -> None:
    # issue 13: a pinned key comes with its origin; the origin reported is the signed one
    archive = tmp_path / "ledger.tar"
    assert sovra(data_dir, "export", str(archive))[0] == 0
    vkey = sovra(data_dir, "key")[1].strip()
    origin, _key_id, blob = vkey.split("+", 2)
    bare = base64.b64encode(base64.b64decode(blob)[1:]).decode()  # the 32-byte key alone
    code, out = sovra(data_dir, "verify", str(archive), "--trusted-key", bare,
                      "--origin", origin, "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["origin"] == origin and report["log_key"] == vkey
    assert report["processes"] == 1  # a small archive stays in one process, and says so
    code, out = sovra(data_dir, "verify", str(archive), "--trusted-key", bare)
    assert code == 2 and "must come with its origin" in " ".join(out.split())
    code, out = sovra(data_dir, "verify", str(archive), "--log-key", vkey,
                      "--origin", "sovra.local/ledger/another")
    assert code == 2 and "is for origin" in " ".join(out.split())
    code, out = sovra(data_dir, "verify", str(archive), "--trusted-key", bare,
                      "--origin", "sovra.local/ledger/another")
    assert code == 1, out  # the same key for another log: no checkpoint verifies
    forged = _rewrite_member(archive, "manifest.json", f'"origin": "{origin}"'.encode(),
                             b'"origin": "sovra.local/ledger/forged"')
    code, out = sovra(data_dir, "verify", str(forged), "--log-key", vkey)
    assert code == 1
    assert f"origin: {origin}" in out and "manifest was altered" in " ".join(out.split())


def test_verify_with_a_malformed_pinned_key_is_a_usage_error(data_dir: Path,
                                                             tmp_path: Path) -> None:
    archive = tmp_path / "ledger.tar"
    assert sovra(data_dir, "export", str(archive))[0] == 0
    code, _ = sovra(data_dir, "verify", str(archive), "--log-key", "not-a-key")
    assert code == 2


def test_offline_witness_flow(data_dir: Path, tmp_path: Path, sqlite_settings: Settings) -> None:
    wkey, state, out = tmp_path / "w.key", tmp_path / "w.state", tmp_path / "cosigned.note"
    code, vkey = sovra(data_dir, "witness-keygen", "witness.example.org/w1", "--out", str(wkey))
    assert code == 0, vkey
    vkey = vkey.strip()
    assert sovra(data_dir, "witness-keygen", "w2", "--out", str(wkey))[0] == 2  # no overwrite
    log_key = sovra(data_dir, "key")[1].strip()

    note1 = tmp_path / "cp1.note"
    code, text = sovra(data_dir, "checkpoint")
    assert code == 0
    note1.write_text(text)
    size1 = int(text.split("\n")[1])
    args = ["--key", str(wkey), "--log-key", log_key, "--state", str(state), "--out", str(out)]
    code, msg = sovra(data_dir, "witness", *args, "--checkpoint", str(note1))
    assert code == 0, msg
    assert "first checkpoint" in msg

    opened = open_instance(sqlite_settings)
    try:
        for i in range(5):
            opened.ledger.append("user:b", "data.ingest", "c", "success", {"j": i})
    finally:
        opened.close()
    note2, proof = tmp_path / "cp2.note", tmp_path / "proof.txt"
    note2.write_text(sovra(data_dir, "checkpoint")[1])
    size2 = int(note2.read_text().split("\n")[1])
    code, text = sovra(data_dir, "consistency", str(size1), str(size2))
    assert code == 0
    proof.write_text(text)
    code, msg = sovra(data_dir, "witness", *args, "--checkpoint", str(note2), "--proof", str(proof))
    assert code == 0, msg
    assert state.read_text() == out.read_text()

    # Replaying the older checkpoint is a rollback: refused, state unchanged.
    code, msg = sovra(data_dir, "witness", *args, "--checkpoint", str(note1))
    assert code == 1 and "rollback" in msg

    code, msg = sovra(data_dir, "cosign-import", str(out), "--witness", vkey)
    assert code == 0, msg
    archive = tmp_path / "ledger.tar"
    assert sovra(data_dir, "export", str(archive))[0] == 0
    code, msg = sovra(data_dir, "verify", str(archive), "--witness", vkey, "--json")
    assert code == 0, msg
    assert json.loads(msg)["witnesses"] == {"witness.example.org/w1": size2}

    # The witness can also check a whole export and cosign its newest checkpoint.
    code, msg = sovra(data_dir, "witness", *args, "--archive", str(archive))
    assert code == 0, msg


def test_show_and_tail(data_dir: Path) -> None:
    code, out = sovra(data_dir, "show", "3")
    assert code == 0
    shown = json.loads(out)
    assert shown["entry"]["seq"] == 3 and shown["inclusion_proof"]
    code, out = sovra(data_dir, "tail", "-n", "2")
    assert code == 0 and len(out.strip().splitlines()) == 2
    code, out = sovra(data_dir, "show", "100000")
    assert code == 1 and "ProofError" in out


def test_as_stored_export_needs_allow_unsigned_tail(data_dir: Path, tmp_path: Path) -> None:
    archive = tmp_path / "stored.tar"
    code, out = sovra(data_dir, "export", "--as-stored", str(archive))
    assert code == 0, out
    code, out = sovra(data_dir, "verify", str(archive))
    assert code == 1 and "not covered" in out  # nothing was ever signed
    code, out = sovra(data_dir, "verify", str(archive), "--allow-unsigned-tail", "--json")
    assert code == 0, out
    assert json.loads(out)["unsigned_entries"] >= 12
