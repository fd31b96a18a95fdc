"""`sovra up` SIGKILLed under load, again and again (issue 17, "Faults survived").

Four clients create principals over HTTP; at a random moment the server is killed with
SIGKILL, then started again on the same data directory. After every round it must come
back cleanly, and at the end every request that was acknowledged (201) must still be
there, with its ledger entry, and the log must verify offline.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import threading
import time
from pathlib import Path

import httpx
import pytest

from sovra.config import load_settings
from sovra.instance import open_instance
from sovra.ledger import verify_archive
from tests.e2e.server import free_port, sovra_command

ROUNDS = 3
CLIENTS = 4


def _start(data_dir: Path, log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1",
           "COLUMNS": "200"}
    with log.open("ab") as out:
        process = subprocess.Popen([*sovra_command(), "up", "--port", str(port)], env=env,
                                   stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url + "/healthz", timeout=1).status_code == 200:
                return process, url
        time.sleep(0.1)
    process.kill()
    raise AssertionError("sovra up did not (re)start cleanly:\n" + log.read_text()[-3000:])


def _load(url: str, key: str, prefix: str, stop: threading.Event, acked: list[str]) -> None:
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                      timeout=10) as client:
        n = 0
        while not stop.is_set():
            name = f"{prefix}-{n}"
            n += 1
            try:
                answer = client.post("/identity/principals", json={"principal_id": name,
                                                          "roles": ["analyst"]})
            except httpx.HTTPError:
                return  # the server is gone: nothing after this was acknowledged
            if answer.status_code == 201:
                acked.append(name)


@pytest.mark.e2e
@pytest.mark.slow
def test_sigkill_under_load_repeatedly_loses_no_acknowledged_request(tmp_path: Path) -> None:
    data, log = tmp_path / "data", tmp_path / "up.log"
    acked: list[str] = []
    key = ""
    for round_no in range(ROUNDS):
        process, url = _start(data, log)
        if not key:
            key = next(line.strip() for line in log.read_text().splitlines()
                       if line.strip().startswith("sk-sovra-"))
        stop = threading.Event()
        clients = [threading.Thread(target=_load, args=(url, key, f"r{round_no}c{c}", stop,
                                                        acked)) for c in range(CLIENTS)]
        for client in clients:
            client.start()
        time.sleep(1.0 + random.random() * 2.0)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
        stop.set()
        for client in clients:
            client.join(30)
    assert len(acked) > ROUNDS * 5, "the load never got going"

    process, url = _start(data, log)  # a clean restart after the last kill
    try:
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"},
                          timeout=10) as client:
            missing = [p for p in acked
                       if client.get(f"/identity/principals/{p}").status_code != 200]
        assert missing == []
    finally:
        process.terminate()
        process.wait(30)

    inst = open_instance(load_settings(data_dir=data, checkpoint_interval_s=0.0))
    try:
        assert inst.ledger.integrity_problem is None
        bodies = b"\n".join(bytes(r.body) for r in inst.ledger.tail(inst.ledger.size))
        unrecorded = [p for p in acked if f'"resource":"principal:{p}"'.encode() not in bodies]
        assert unrecorded == []
        archive = tmp_path / "ledger-export"
        inst.ledger.export(archive)
        result = verify_archive(archive, log_key=inst.ledger.checkpoints.verifier.vkey)
        assert result.valid, result.problems[:3]
    finally:
        inst.close()
