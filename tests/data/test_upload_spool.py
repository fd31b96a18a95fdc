"""A large upload never lies in plaintext on disk, watched in the real server (issue 13).

Starlette spooled upload parts above 1 MiB to an unnamed file in the system temporary
directory, in plaintext, outside the encrypted store. The test starts the real ``sovra
up`` process, sends a multi-megabyte file slowly, stops half way, and looks at the
server's open files in ``/proc/<pid>/fd``: every file it opened for the upload must be
inside its data directory, and none may hold the file's plaintext. Then it lets the
upload finish and checks that the spool is gone.
"""

from __future__ import annotations

import os
import socket
import stat
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.server import Server, sovra_up

pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="reads the server's open files from /proc (Linux)")]

MARKER = b"SOVRA-PLAINTEXT-MARKER"
LINE = MARKER + b" the quarterly figures, line by line, not for the temporary folder.\n"
CHUNK = LINE * (64 * 1024 // len(LINE))
CHUNKS = 64  # about 4 MiB: well past Starlette's 1 MiB in-memory spool
PAUSE_AT = 40  # chunks sent before the test looks (about 2.5 MiB)
BOUNDARY = "sovra-test-boundary-7f3a"
COLLECTION = {
    "id": "uploads", "owner": "Ops", "purpose": "upload test",
    "subject_categories": ["staff"], "data_categories": ["reports"],
    "retention_days": 30, "jurisdiction": "EU-DE", "ceiling": "secret",
}


@dataclass(frozen=True)
class OpenFile:
    fd: int
    path: str  # as /proc shows it, without " (deleted)"
    deleted: bool
    size: int


def regular_files(pid: int) -> dict[int, OpenFile]:
    """The process's open regular files (not sockets, pipes or devices)."""
    out: dict[int, OpenFile] = {}
    base = Path(f"/proc/{pid}/fd")
    for entry in base.iterdir():
        try:
            target = os.readlink(entry)
            info = entry.stat()
        except OSError:  # closed meanwhile
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        deleted = target.endswith(" (deleted)")
        path = target.removesuffix(" (deleted)")
        out[int(entry.name)] = OpenFile(int(entry.name), path, deleted, info.st_size)
    return out


def contents(pid: int, fd: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/fd/{fd}").read_bytes()
    except OSError:
        return b""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sovra_up(tmp_path_factory.mktemp("spool") / "data") as running:
        created = httpx.post(running.url + "/data/collections", json=COLLECTION,
                             headers=running.headers(), timeout=30)
        assert created.status_code == 201, created.text
        yield running


def slow_body(paused: threading.Event, resume: threading.Event) -> Iterator[bytes]:
    yield (f"--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"classification\"\r\n\r\n"
           f"internal\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; "
           f"filename=\"figures.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
           ).encode()
    for n in range(CHUNKS):
        if n == PAUSE_AT:
            paused.set()
            resume.wait(120)
        yield CHUNK
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def wait_for_spool(pid: int, before: dict[int, OpenFile], least: int) -> dict[int, OpenFile]:
    """Regular files opened since ``before``, once one of them holds ``least`` bytes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        new = {fd: f for fd, f in regular_files(pid).items()
               if fd not in before or before[fd].path != f.path}
        if any(f.size >= least for f in new.values()):
            return new
        time.sleep(0.05)
    pytest.fail(f"no file of {least} bytes appeared in the server while uploading; "
                f"open files: {regular_files(pid)}")


def test_large_upload_is_spooled_encrypted_inside_the_data_dir(server: Server) -> None:
    pid = server.process.pid
    data_dir = server.data_dir.resolve()
    before = regular_files(pid)
    paused, resume = threading.Event(), threading.Event()
    headers = {**server.headers(), "Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    with ThreadPoolExecutor(1) as pool:
        sending = pool.submit(httpx.post, server.url + "/data/collections/uploads/documents",
                              headers=headers, content=slow_body(paused, resume), timeout=120)
        try:
            assert paused.wait(60), "the upload did not start"
            new = wait_for_spool(pid, before, 1 << 20)
            outside = [f for f in new.values() if not Path(f.path).is_relative_to(data_dir)]
            assert not outside, f"upload spooled outside the data directory: {outside}"
            spools = [f for f in new.values() if f.size >= 1 << 20]
            assert spools and all(Path(f.path).parent == data_dir / "uploads" for f in spools)
            for f in new.values():
                assert MARKER not in contents(pid, f.fd), f"plaintext in {f.path}"
            assert all(f.deleted or not Path(f.path).exists() for f in spools), \
                "the spool has a name another process could open"
        finally:
            resume.set()
        answer = sending.result()
    # figures.bin is no format Sovra parses: the upload arrived whole and was refused
    # for its content, not for its transport.
    assert answer.status_code == 422, answer.text
    assert "figures.bin" in answer.json()["error"]["message"]
    left = [f for f in regular_files(pid).values()
            if Path(f.path).is_relative_to(data_dir / "uploads")]
    assert not left, f"spool still open after the request: {left}"
    assert not any((data_dir / "uploads").iterdir())


def test_upload_above_the_limit_is_refused_unread(server: Server) -> None:
    """A Content-Length above the limit is answered before a byte of the body is sent."""
    host, port = server.url.removeprefix("http://").split(":")
    request = (f"POST /data/collections/uploads/documents HTTP/1.1\r\nHost: {host}\r\n"
               f"Authorization: Bearer {server.admin_key}\r\n"
               f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\n"
               f"Content-Length: {1 << 40}\r\nConnection: close\r\n\r\n").encode()
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    status_line, _, rest = reply.partition(b"\r\n")
    assert b" 413 " in status_line, reply
    assert b"data_max_file_bytes" in rest
