"""The ``sovra bundle`` commands end to end: keys, root, create (YAML SPEC), trust,
import, status, and root rotation, as an operator would type them."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.cli.commands import transfer as transfer_commands
from sovra.config import Settings

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(autouse=True)
def wide_console() -> Iterator[None]:
    # Rich sizes tables to the terminal; the runner has none, so give it room.
    saved = transfer_commands.console.width
    transfer_commands.console.width = 240
    yield
    transfer_commands.console.width = saved


def _spec(folder: Path) -> Path:
    (folder / "model.gguf").write_bytes(os.urandom(8192))
    (folder / "feed.json").write_text('{"indicators": []}')
    spec = {"name": "cli-bundle", "targets": [
        {"kind": "model", "path": "model.gguf", "component": "cli-model", "version": "1",
         "manifest": {"source": "internal", "licence": "MIT", "intended_use": "tests"}},
        {"kind": "threat-intel", "path": "feed.json", "component": "feed", "version": "1"},
    ]}
    path = folder / "bundle.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_connected_side_to_site_with_rotation(tmp_path: Path, sqlite_settings: Settings,
                                              cli_admin_key: str) -> None:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    for name in ("k1", "k2", "k3", "k4"):
        assert "key id" in _ok("bundle", "keygen", name, "--out", str(keys))
    assert (keys / "k1.key").stat().st_mode & 0o077 == 0  # private key not readable by others
    _ok("bundle", "root-init", "--repo", str(repo), "--threshold", "2",
        *[a for n in ("k1", "k2", "k3") for a in ("--root-key", str(keys / f"{n}.pub.json"))],
        "--keys", str(keys / "k1.key"), "--keys", str(keys / "k2.key"))
    spec = _spec(tmp_path)
    first = tmp_path / "first.tar"
    out = _ok("bundle", "create", str(spec), "--repo", str(repo), "--out", str(first),
              "--keys", str(keys / "k1.key"), "--keys", str(keys / "k3.key"))
    assert "models/model.gguf" in out

    site = ["--data-dir", str(sqlite_settings.data_dir)]
    _ok(*site, "bundle", "trust", str(repo / "roots" / "1.root.json"), "--api-key", cli_admin_key)
    out = _ok(*site, "bundle", "import", str(first), "--api-key", cli_admin_key)
    assert "activated" in out
    assert "registered" in out

    # Rotate: k1 leaves, k4 joins; signed by 2 old and 2 new keys (TUF §5.3.4).
    _ok("bundle", "root-rotate", "--repo", str(repo), "--threshold", "2",
        *[a for n in ("k2", "k3", "k4") for a in ("--root-key", str(keys / f"{n}.pub.json"))],
        *[a for n in ("k1", "k2", "k3", "k4") for a in ("--sign-with", str(keys / f"{n}.key"))])
    refused = runner.invoke(app, ["bundle", "create", str(spec), "--repo", str(repo),
                                  "--out", str(tmp_path / "x.tar"),
                                  "--keys", str(keys / "k1.key"), "--keys", str(keys / "k2.key")])
    assert refused.exit_code == 2  # k1 is revoked: the connected side refuses to sign
    second = tmp_path / "second.tar.gz"
    _ok("bundle", "create", str(spec), "--repo", str(repo), "--out", str(second), "--gzip",
        "--keys", str(keys / "k2.key"), "--keys", str(keys / "k4.key"))
    _ok(*site, "bundle", "import", str(second), "--api-key", cli_admin_key)
    denied = runner.invoke(app, [*site, "bundle", "status", "--api-key", "sk-sovra-bogus"])
    assert denied.exit_code == 5
    status = _ok(*site, "bundle", "status", "--api-key", cli_admin_key)
    assert "root v2" in status
    assert "cli-model" in status
    assert "patch lag" in status

    replay = runner.invoke(app, [*site, "bundle", "import", str(first), "--api-key", cli_admin_key])
    assert replay.exit_code == 1
    assert "BundleVerificationError" in replay.output


def test_two_person_import_approve_and_reject(tmp_path: Path, sqlite_settings: Settings,
                                              cli_admin_key: str) -> None:
    """``bundle approve`` and ``bundle reject``: the second person of a two-person import
    activates one bundle and refuses another; the importer cannot approve its own."""
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    for name in ("k1", "k2"):
        _ok("bundle", "keygen", name, "--out", str(keys))
    signers = ("--keys", str(keys / "k1.key"), "--keys", str(keys / "k2.key"))
    _ok("bundle", "root-init", "--repo", str(repo), "--threshold", "2",
        *[a for n in ("k1", "k2") for a in ("--root-key", str(keys / f"{n}.pub.json"))],
        *signers)
    bundles = []
    for name in ("refused", "accepted"):
        bundles.append(tmp_path / f"{name}.tar")
        _ok("bundle", "create", str(_spec(tmp_path)), "--repo", str(repo), "--out",
            str(bundles[-1]), *signers)
    site = ["--data-dir", str(sqlite_settings.data_dir)]
    two_person = {"SOVRA_BUNDLE_TWO_PERSON": "true", "SOVRA_CHECKPOINT_INTERVAL_S": "0"}

    def sovra(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*site, *args], env=two_person)
        return result.exit_code, result.output

    assert sovra("principal", "create", "ann", "--role", "approver",
                 "--api-key", cli_admin_key)[0] == 0
    code, out = sovra("apikey", "create", "ann", "--api-key", cli_admin_key)
    found = re.search(r"sk-sovra-[0-9a-f]{12}_[A-Za-z0-9_-]{43}", out)
    assert code == 0 and found is not None, out
    ann = found.group()
    _ok(*site, "bundle", "trust", str(repo / "roots" / "1.root.json"), "--api-key",
        cli_admin_key)
    held_ids = []
    for bundle in bundles:
        code, out = sovra("bundle", "import", str(bundle), "--api-key", cli_admin_key)
        assert code == 0, out
        held_ids.append(out.split("sovra bundle approve ")[1].split()[0])
    refused_id, accepted_id = held_ids
    code, out = sovra("bundle", "reject", refused_id, "--reason", "not ordered",
                      "--api-key", ann)
    done = f"bundle {refused_id} rejected; nothing from it was activated"
    assert (code, out.strip()) == (0, done)
    code, out = sovra("bundle", "approve", accepted_id, "--api-key", cli_admin_key)
    assert code == 5, out  # the importer is not its own second person
    code, out = sovra("bundle", "approve", accepted_id, "--api-key", ann)
    assert code == 0 and "activated" in out, out
    code, out = sovra("bundle", "approve", refused_id, "--api-key", ann)
    assert code != 0 and "not awaiting approval" in out, out
    status = _ok(*site, "bundle", "status", "--api-key", cli_admin_key)
    assert "awaiting approval" not in status and "cli-model" in status
