"""`sovra up` on a full disk (issue 17, "Faults survived"): writes fail closed with a
clear error, nothing half-written, and service resumes when space returns, without
restarting Sovra.

The data directory is a real, small tmpfs mount (root only; skipped, saying why,
elsewhere). A read-only remount of the live data directory is refused by the kernel
while SQLite holds its files open for writing ("mount point busy"), so the read-only
case is covered for backup destinations only (test_faults.py).
"""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.continuity.test_faults import _mount
from tests.continuity.test_server_faults import _start


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    mount = tmp_path / "small"
    _mount(mount, 96)
    data = mount / "data"
    process = None
    try:
        process, url = _start(data, tmp_path / "up.log")
        key = next(line.strip() for line in (tmp_path / "up.log").read_text().splitlines()
                   if line.strip().startswith("sk-sovra-"))
        yield url, key, mount
    finally:
        if process is not None:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(30)
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _create(url: str, key: str, name: str) -> httpx.Response:
    return httpx.post(url + "/identity/principals", json={"principal_id": name},
                      headers={"Authorization": f"Bearer {key}"}, timeout=30)


def _fill(mount: Path) -> Path:
    filler = mount / "filler"
    with filler.open("wb") as out, contextlib.suppress(OSError):
        while True:
            out.write(b"\0" * (1 << 20))
            out.flush()
    return filler


@pytest.mark.e2e
def test_full_disk_fails_closed_and_resumes_when_space_returns(
        served: tuple[str, str, Path]) -> None:
    url, key, mount = served
    assert _create(url, key, "before").status_code == 201
    filler = _fill(mount)
    refused = [_create(url, key, f"full-{i}") for i in range(5)]
    assert all(r.status_code == 503 for r in refused), [r.text for r in refused]
    # The ledger refuses first (no record, no action), and says why.
    assert all("disk is full" in r.json()["error"]["message"] for r in refused)
    filler.unlink()
    again = _create(url, key, "after")
    assert again.status_code == 201, again.text
    headers = {"Authorization": f"Bearer {key}"}
    for name in ("before", "after"):
        assert httpx.get(f"{url}/identity/principals/{name}", headers=headers,
                         timeout=30).status_code == 200
    for i in range(5):  # refused means not created, not half-created
        assert httpx.get(f"{url}/identity/principals/full-{i}", headers=headers,
                         timeout=30).status_code == 404
