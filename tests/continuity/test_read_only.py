"""`sovra up` on a read-only data directory (issue 17, "Faults survived"): it refuses to
start with a message that names the read-only file system and the fix, instead of a
migration failure, and nothing is written. Sovra records every request before it
answers, so a read-only instance could serve nothing unrecorded (fail closed).

The data directory is a real tmpfs, filled by a first `sovra up`, stopped, then
remounted read-only (a live one cannot be: "mount point busy", test_server_disk.py).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.continuity.test_faults import _mount
from tests.continuity.test_server_faults import _start
from tests.e2e.server import free_port, sovra_command

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.fixture
def read_only_data(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "ro"
    _mount(mount, 96)
    try:
        data = mount / "data"
        process, _url = _start(data, tmp_path / "first.log")
        process.terminate()
        process.wait(30)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield data
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_sovra_up_on_a_read_only_data_directory_refuses_clearly(read_only_data: Path
                                                                ) -> None:
    before = sorted((p.name, p.stat().st_size) for p in read_only_data.rglob("*"))
    done = subprocess.run([*sovra_command(), "up", "--port", str(free_port())],
                          env={**os.environ, "SOVRA_DATA_DIR": str(read_only_data),
                               "COLUMNS": "200"},
                          capture_output=True, text=True, timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    assert "read-only file system" in output and "Remount it read-write" in output, output
    assert "MigrationError" not in output
    assert sorted((p.name, p.stat().st_size) for p in read_only_data.rglob("*")) == before
