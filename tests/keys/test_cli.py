"""The key commands as an operator runs them, against the real `sovra up` process."""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import free_port, sovra_command, sovra_up


@contextlib.contextmanager
def _serve(data_dir: Path) -> Iterator[tuple[str, Path]]:
    """`sovra up` on an initialised directory (the first admin key was shown by init)."""
    port = free_port()
    log = data_dir.parent / "up.log"
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200",
           "PYTHONUNBUFFERED": "1"}
    with log.open("w") as out:
        process = subprocess.Popen([*sovra_command(), "up", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError("sovra up did not start:\n" + log.read_text())
        yield url, log
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


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
def test_ceremony_sealed_server_custodians_unseal_then_rotate_and_erase(tmp_path: Path) -> None:
    data, shares = tmp_path / "data", tmp_path / "custodians"
    done = _sovra(data, "init", "--shares", "3", "--threshold", "2", "--share-dir", str(shares))
    files = sorted(shares.glob("sovra-share-*.txt"))
    assert len(files) == 3 and "any 2 unseal" in done.stdout
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    assert not any(data.rglob("sovra-share-*"))  # the shares are not kept by the instance

    admin_key = next(line.strip() for line in done.stdout.splitlines()
                     if line.strip().startswith("sk-sovra-"))

    with _serve(data) as (url_base, log):
        assert "SEALED" in log.read_text() and "sovra unseal" in log.read_text()
        url = ["--url", url_base]
        first = _sovra(data, "unseal", "--share-file", str(files[2]), *url)
        assert "progress=1 of 2" in first.stdout
        dup = _sovra(data, "unseal", "--share-file", str(files[2]), *url, check=False)
        assert dup.returncode == 1 and "duplicate share" in dup.stderr
        # A custodian who entered the wrong share starts over: progress back to 0, so
        # the same share counts again and two more are needed.
        reset = _sovra(data, "unseal", "--reset", *url)
        assert "progress=0 of 2" in reset.stdout
        assert httpx.get(url_base + "/sys/seal-status", timeout=10).json()["sealed"] is True
        again = _sovra(data, "unseal", "--share-file", str(files[2]), *url)
        assert "progress=1 of 2" in again.stdout
        _sovra(data, "unseal", "--share-file", str(files[0]), *url)
        assert httpx.get(url_base + "/sys/seal-status", timeout=10).json()["sealed"] is False

        denied = _sovra(data, "seal", *url, check=False)
        assert denied.returncode == 5
        _sovra(data, "seal", *url, "--api-key", admin_key)
        assert httpx.get(url_base + "/sys/seal-status", timeout=10).json()["sealed"] is True
        shown = _sovra(data, "keys", "status", *url)
        assert f"server at {url_base}" in shown.stdout and "sealed" in shown.stdout

    # Commands that run in their own process unseal themselves from share files.
    from sovra.config import load_settings
    from sovra.instance import open_instance

    inst = open_instance(load_settings(data_dir=data))
    try:
        for f in files[:2]:
            inst.keys.submit_share(f.read_text())
        inst.keys.create_keyring("tenant-a")
        inst.keys.encrypt("tenant-a", "doc", b"x")
    finally:
        inst.close()
    sealed = _sovra(data, "keys", "rotate", "tenant-a", check=False)
    assert sealed.returncode == 4 and "SealedError" in sealed.stderr
    share_args = ["--share-file", str(files[1]), "--share-file", str(files[2])]
    rotated = _sovra(data, "keys", "rotate", "tenant-a", "--rewrap", "--min-version", "2",
                     *share_args)
    assert "KEK version 2" in rotated.stdout and "1 data keys rewrapped" in rotated.stdout
    erased = _sovra(data, "keys", "erase", "tenant-a", "--yes", *share_args)
    assert "erased 2 KEK versions and 1 data keys" in erased.stdout
