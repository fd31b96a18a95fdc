"""The key commands as an operator runs them, against the real `sovra up` process."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import sovra_command, sovra_up


def _sovra(data_dir: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    done = subprocess.run([*sovra_command(), *args], env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"sovra {' '.join(args)} exited {done.returncode}:\n"
                             f"{done.stdout}\n{done.stderr}")
    return done


@pytest.mark.e2e
def test_up_on_a_fresh_directory_is_dev_mode_and_says_so(tmp_path: Path) -> None:
    with sovra_up(tmp_path / "data") as server:
        status = httpx.get(server.url + "/sys/seal-status", timeout=10).json()
        assert status["dev_mode"] is True and status["sealed"] is False
        assert "NOT FOR PRODUCTION" in "".join(server.output)


@pytest.mark.e2e
def test_ceremony_then_sealed_server_then_custodians_unseal(tmp_path: Path) -> None:
    data, shares = tmp_path / "data", tmp_path / "custodians"
    done = _sovra(data, "init", "--shares", "3", "--threshold", "2", "--share-dir", str(shares))
    files = sorted(shares.glob("sovra-share-*.txt"))
    assert len(files) == 3 and "any 2 unseal" in done.stdout
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert not any(data.rglob("sovra-share-*"))  # the shares are not kept by the instance
    again = _sovra(data, "init", "--share-dir", str(tmp_path / "second"), check=False)
    assert again.returncode != 0 and "already initialised" in again.stderr

    with sovra_up(data) as server:
        assert any("SEALED" in line and "sovra unseal" in line for line in server.output)
        url = ["--url", server.url]
        first = _sovra(data, "unseal", "--share-file", str(files[2]), *url)
        assert "progress=1 of 2" in first.stdout
        dup = _sovra(data, "unseal", "--share-file", str(files[2]), *url, check=False)
        assert dup.returncode == 1 and "duplicate share" in dup.stderr
        _sovra(data, "unseal", "--share-file", str(files[0]), *url)
        assert httpx.get(server.url + "/sys/seal-status", timeout=10).json()["sealed"] is False

        denied = _sovra(data, "seal", *url, check=False)
        assert denied.returncode == 5
        _sovra(data, "seal", *url, "--api-key", server.admin_key)
        assert httpx.get(server.url + "/sys/seal-status", timeout=10).json()["sealed"] is True
        shown = _sovra(data, "keys", "status", *url)
        assert f"server at {server.url}" in shown.stdout and "sealed" in shown.stdout


@pytest.mark.e2e
def test_rotate_and_erase_from_the_cli_with_share_files(tmp_path: Path) -> None:
    data, shares = tmp_path / "data", tmp_path / "custodians"
    _sovra(data, "init", "-n", "2", "-m", "2", "--share-dir", str(shares))
    files = [arg for f in sorted(shares.glob("*.txt")) for arg in ("--share-file", str(f))]
    from sovra.config import load_settings
    from sovra.instance import open_instance

    inst = open_instance(load_settings(data_dir=data))
    try:
        for f in sorted(shares.glob("*.txt")):
            inst.keys.submit_share(f.read_text())
        inst.keys.create_keyring("tenant-a")
        inst.keys.encrypt("tenant-a", "doc", b"x")
    finally:
        inst.close()
    sealed = _sovra(data, "keys", "rotate", "tenant-a", check=False)
    assert sealed.returncode == 4 and "SealedError" in sealed.stderr
    rotated = _sovra(data, "keys", "rotate", "tenant-a", "--rewrap", "--min-version", "2",
                     *files)
    assert "KEK version 2" in rotated.stdout and "1 data keys rewrapped" in rotated.stdout
    refused = _sovra(data, "keys", "erase", "tenant-a", *files, check=False)
    assert refused.returncode == 2
    erased = _sovra(data, "keys", "erase", "tenant-a", "--yes", *files)
    assert "erased 2 KEK versions and 1 data keys" in erased.stdout
