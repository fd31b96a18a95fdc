"""Read-only commands ask the running server (issue 15): with an API key and a live
``sovra up`` on the data directory they load no room of their own, print what the
in-process path prints, and the ledger gains only the server's record of each read;
with a stale note (the server is gone) they open the data directory as before."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.cli.server import SERVER_URL_FILE
from tests.e2e.server import Server, sovra_command, sovra_up

HEAVY = ("sovra.instance", "sovra.store", "sqlalchemy", "sovra.ai.gateway", "sovra.data.ingest")

_PROBE = """
import json, sys
args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["sovra", *args]
from sovra.cli.app import main
code = 0
try:
    main()
except SystemExit as exc:
    code = exc.code or 0
sys.stdout.flush()
sys.stderr.write("LOADED=" + json.dumps([m for m in heavy if m in sys.modules]) + "\\n")
sys.exit(code)
"""

# Each command, the action its read is decided on, and a line its output must hold.
READS = [
    (("models", "list"), "models.use", "all-MiniLM-L6-v2-onnx-int8  embedding"),
    (("policy", "show"), "policy.read", "// version 1 (active) sha256 "),
    (("data", "collection", "list"), "collections.read", "┃ id "),
    (("lockbox", "status"), "lockbox.read", "pending requests: 0; live grants: 0"),
    (("keys", "status"), "keys.status", "unsealed  mode=dev"),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with sovra_up(tmp_path_factory.mktemp("remote") / "data") as running:
        yield running


def _env(server: Server) -> dict[str, str]:
    env = {**os.environ, "SOVRA_DATA_DIR": str(server.data_dir), "COLUMNS": "200"}
    env.pop("SOVRA_API_KEY", None)
    return env


def _probe(server: Server, *args: str) -> tuple[str, list[str]]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(list(args)),
                           json.dumps(HEAVY)], env=_env(server), capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED="))
    return done.stdout, json.loads(line.removeprefix("LOADED="))


def _tail(server: Server) -> list[dict[str, object]]:
    done = subprocess.run([*sovra_command(), "ledger", "tail", "-n", "10000"],
                          env=_env(server), capture_output=True, text=True, timeout=120,
                          check=True)
    return [json.loads(line) for line in done.stdout.splitlines()]


@pytest.mark.parametrize(("args", "action", "shown"), READS)
def test_a_read_asks_the_server_and_records_only_its_decision(
        server: Server, args: tuple[str, ...], action: str, shown: str) -> None:
    before = len(_tail(server))
    printed, loaded = _probe(server, *args, "--api-key", server.admin_key)
    assert shown in printed
    assert loaded == []  # no instance, no database, no room opened in this process
    added = _tail(server)[before:]
    assert added, "the server records the decision on every read"
    assert {e["action"] for e in added} == {"policy.decision"}
    assert action in {e["details"]["action"] for e in added}  # type: ignore[index]
    assert {e["actor"] for e in added} == {"admin"}


@pytest.mark.parametrize(("args", "action", "shown"), READS[:4])
def test_server_and_data_directory_print_the_same(
        server: Server, args: tuple[str, ...], action: str, shown: str) -> None:
    del action
    remote, _ = _probe(server, *args, "--api-key", server.admin_key)
    # An unanswered --url makes the command fail, so the stale-note path is what is
    # compared: the in-process path is taken only when no server answers the note.
    note = server.data_dir / SERVER_URL_FILE
    kept = note.read_text(encoding="ascii")
    note.write_text("http://127.0.0.1:9\n", encoding="ascii")  # nothing listens there
    try:
        local, loaded = _probe(server, *args, "--api-key", server.admin_key)
    finally:
        note.write_text(kept, encoding="ascii")
    assert "sovra.instance" in loaded  # it opened the data directory itself
    assert shown in local
    if args == ("models", "list"):  # the server lists the approved ones, as here
        assert remote.strip() == local.strip()
    else:
        assert remote == local


def test_ledger_tail_reads_the_table_alone_and_records_nothing(server: Server) -> None:
    before = _tail(server)
    printed, loaded = _probe(server, "ledger", "tail", "-n", "3")
    assert "sovra.instance" not in loaded
    assert [json.loads(line) for line in printed.splitlines()] == before[-3:]
    assert _tail(server) == before


def test_ledger_verify_of_a_small_export_loads_no_instance(server: Server,
                                                            tmp_path: Path) -> None:
    archive = tmp_path / "ledger.tar"
    subprocess.run([*sovra_command(), "ledger", "export", str(archive)], env=_env(server),
                   capture_output=True, text=True, timeout=120, check=True)
    printed, loaded = _probe(server, "ledger", "verify", str(archive))
    assert "VALID" in printed and "INVALID" not in printed
    assert [m for m in loaded if m in ("sovra.instance", "sovra.store")] == []


def test_an_unanswered_explicit_url_is_an_error_not_a_silent_fallback(server: Server) -> None:
    done = subprocess.run([*sovra_command(), "lockbox", "status", "--api-key",
                           server.admin_key, "--url", "http://127.0.0.1:9"],
                          env=_env(server), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "no Sovra server answers at http://127.0.0.1:9" in done.stdout + done.stderr


def test_a_url_without_a_key_is_refused_not_answered_from_the_data_directory(
        server: Server) -> None:
    done = subprocess.run([*sovra_command(), "models", "list", "--url", server.url],
                          env=_env(server), capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode != 0
    assert "needs an API key" in done.stderr and "--api-key" in done.stderr
    assert "SmolLM2" not in done.stdout
