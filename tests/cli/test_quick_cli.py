"""A quick CLI (issue 15): ``sovra --help`` and ``--version`` import no room, every lazily
registered command loads and its listed help is its own, and read-only commands on a
development-mode instance append nothing to the ledger."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

import sovra
from sovra.cli.app import _LAZY, app, load_command
from sovra.config import load_settings
from sovra.identity import ensure_first_admin
from sovra.instance import open_instance
from sovra.keys import start_for_up
from tests.e2e.server import sovra_command

# Not pydantic: Typer's own parameter adapter imports it once a command is built.
HEAVY = ("sqlalchemy", "fastapi", "numpy", "onnxruntime", "llama_cpp",
         "sovra.instance", "sovra.config", "sovra.ledger", "sovra.ai", "sovra.data")

_PROBE = """
import json, sys
args, heavy = json.loads(sys.argv[1]), json.loads(sys.argv[2])
sys.argv = ["sovra", *args]
from sovra.cli.app import main
try:
    main()
except SystemExit:
    pass
loaded = [m for m in heavy if m in sys.modules]
sys.stderr.write("LOADED=" + json.dumps(loaded) + "\\n")
"""


def _loaded_after(*args: str) -> tuple[list[str], str]:
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(list(args)),
                           json.dumps(HEAVY)], capture_output=True, text=True, timeout=60,
                          check=True)
    line = next(x for x in done.stderr.splitlines() if x.startswith("LOADED="))
    return json.loads(line.removeprefix("LOADED=")), done.stdout + done.stderr


@pytest.mark.parametrize("args", [("--version",), ("--help",), ()])
def test_version_and_help_import_no_room(args: tuple[str, ...]) -> None:
    loaded, shown = _loaded_after(*args)
    assert loaded == []
    if args == ("--version",):
        assert shown.split("LOADED=")[0].strip() == sovra.__version__
    else:
        assert all(name in shown for name in _LAZY)  # every command is listed


def test_a_command_imports_only_its_own_module() -> None:
    loaded, shown = _loaded_after("status", "--help")
    assert "--api-key" in shown
    assert loaded == []  # it asks the server; it opens no instance of its own


@pytest.mark.parametrize("name", list(_LAZY))
def test_each_listed_line_is_the_commands_own_help(name: str) -> None:
    command = load_command(name)
    own = " ".join((command.help or "").split("\n\n")[0].split())
    assert own == _LAZY[name][2]


def _ledger_size(data_dir: Path) -> int:
    opened = open_instance(load_settings(data_dir=data_dir), record_dev_unseal=False)
    try:
        return opened.ledger.size
    finally:
        opened.close()


def test_read_only_commands_append_nothing_in_development_mode(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    opened = open_instance(load_settings(data_dir=data_dir))
    try:
        start_for_up(opened.keys)  # the dev ceremony `sovra up` holds on a fresh directory
    finally:
        opened.close()
    before = _ledger_size(data_dir)
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    for args in (("models", "list"), ("db", "status"), ("ledger", "tail")):
        done = subprocess.run([*sovra_command(), *args], env=env, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
    assert _ledger_size(data_dir) == before
    # The server's own start still records its dev-mode unseal.
    reopened = open_instance(load_settings(data_dir=data_dir))
    try:
        actions = [json.loads(r.body)["action"] for r in reopened.ledger.tail(2)]
    finally:
        reopened.close()
    assert actions == ["keys.unseal.share", "keys.unseal"]


def test_status_says_when_no_server_answers(tmp_path: Path) -> None:
    env = {**os.environ, "SOVRA_DATA_DIR": str(tmp_path / "none"), "COLUMNS": "200"}
    done = subprocess.run([*sovra_command(), "status", "--url", "http://127.0.0.1:9"],
                          env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 4
    assert "not running at http://127.0.0.1:9" in done.stdout and "sovra up" in done.stdout
    assert not (tmp_path / "none").exists()  # it opened no instance of its own


def _all_paths() -> list[list[str]]:
    paths: list[list[str]] = []
    for name in _LAZY:
        command = load_command(name)
        paths.append([name])
        paths.extend([name, sub] for sub in getattr(command, "commands", {}))
    return paths


def test_help_has_no_artefacts() -> None:
    runner = CliRunner()
    for path in _all_paths():
        shown = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "200"})
        assert shown.exit_code == 0, (path, shown.output)
        assert "<bool>" not in shown.output, path  # a flag takes no value
        assert "``" not in shown.output, path  # reStructuredText literal markup


def test_the_quick_data_dir_is_the_settings_one(monkeypatch: pytest.MonkeyPatch,
                                                tmp_path: Path) -> None:
    from sovra.cli.context import GlobalOptions
    from sovra.cli.server import data_dir_without_settings

    class Ctx:
        def __init__(self, obj: GlobalOptions) -> None:
            self.obj = obj

        def find_root(self) -> Ctx:
            return self

    none = GlobalOptions(data_dir=None, database_url=None)
    monkeypatch.delenv("SOVRA_DATA_DIR", raising=False)
    assert data_dir_without_settings(Ctx(none)) == load_settings().data_dir  # type: ignore[arg-type]
    monkeypatch.setenv("SOVRA_DATA_DIR", str(tmp_path / "env"))
    assert data_dir_without_settings(Ctx(none)) == load_settings().data_dir  # type: ignore[arg-type]
    flagged = GlobalOptions(data_dir=tmp_path / "flag", database_url=None)
    assert data_dir_without_settings(Ctx(flagged)) == tmp_path / "flag"  # type: ignore[arg-type]


def test_piped_tables_are_not_cut_at_80_columns(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    opened = open_instance(load_settings(data_dir=data_dir))
    try:
        start_for_up(opened.keys)
        key = ensure_first_admin(opened)
        opened.identity.create_api_key("system", "admin", label="a-rather-long-label-" * 3)
    finally:
        opened.close()
    assert key is not None
    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    env["SOVRA_DATA_DIR"] = str(data_dir)
    done = subprocess.run([*sovra_command(), "apikey", "list", "--api-key", key], env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "a-rather-long-label-" * 3 in done.stdout  # one row, not wrapped or cut
