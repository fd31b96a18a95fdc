"""The suite runs with no network but loopback (scripts/test.sh isolates it)."""

from __future__ import annotations

import errno
import os
import socket

import pytest

ISOLATED = os.environ.get("SOVRA_TEST_OFFLINE") == "1"


@pytest.mark.skipif(not ISOLATED, reason="only meaningful under scripts/test.sh, which runs "
                    "the suite in a loopback-only network namespace")
def test_suite_runs_without_any_route_beyond_loopback() -> None:
    probe = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    probe.settimeout(2)
    try:
        result = probe.connect_ex(("192.0.2.1", 443))  # TEST-NET-1: never a real host
    finally:
        probe.close()
    assert result in {errno.ENETUNREACH, errno.EHOSTUNREACH}


def test_loopback_works() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        with socket.create_connection(server.getsockname(), timeout=2):
            pass
