"""Progress for the CLI's long steps (issue 15): a bar on stderr only when it is a
terminal and not ``--quiet``; the callbacks count to the totals the bar shows; and a
command prints the same answer on stdout with or without a bar."""

from __future__ import annotations

import io
import os
import re
import subprocess
from pathlib import Path

from rich.console import Console

from sovra.cli.progress import Meter, bytes_of, copy_with_progress, progress
from sovra.config import Settings, load_settings
from sovra.data import CollectionSpec
from sovra.data.embed import Embedder
from sovra.identity import Caller
from sovra.instance import open_instance
from sovra.keys import Share, start_for_up
from sovra.policy import Classification
from tests.e2e.server import sovra_command
from tests.support.admin import prepared_admin_key
from tests.support.lockbox import lockbox_off

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret")
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _console(*, terminal: bool) -> Console:
    return Console(file=io.StringIO(), force_terminal=terminal, width=120)


def _shown(console: Console) -> str:
    file = console.file
    assert isinstance(file, io.StringIO)
    return file.getvalue()


def test_no_bar_without_a_terminal_or_with_quiet() -> None:
    for console, quiet in ((_console(terminal=False), False), (_console(terminal=True), True)):
        with progress("step", 10, console=console, quiet=quiet) as meter:
            meter.advance(4, "first")
            meter.advance(6, "second")
        assert _shown(console) == ""
        assert (meter.done, meter.total, meter.label) == (10, 10, "second")


def test_a_terminal_gets_a_bar_that_counts_to_the_total() -> None:
    console = _console(terminal=True)
    with progress("copying", 3, console=console, thread=False) as meter:
        meter.advance(1, "one.txt")
        meter.advance(2, "two.txt")
    shown = ANSI.sub("", _shown(console))
    assert "1/3" in shown and "3/3" in shown
    assert "two.txt" in shown


def test_an_unknown_total_still_shows_the_step() -> None:
    console = _console(terminal=True)
    with progress("verifying ledger.tar", console=console, thread=False) as meter:
        meter.update(5, None)
    assert "verifying ledger.tar" in ANSI.sub("", _shown(console))
    assert meter.total is None


def test_copy_reports_every_byte(tmp_path: Path) -> None:
    source = tmp_path / "bundle.tar"
    source.write_bytes(os.urandom((5 << 20) // 2))  # 2.5 MiB: three 1 MiB steps
    meter = Meter(None, None, bytes_of([source]))
    copy_with_progress(source, tmp_path / "out.tar", meter)
    assert (tmp_path / "out.tar").read_bytes() == source.read_bytes()
    assert meter.done == meter.total == source.stat().st_size


def test_ingest_reports_each_files_bytes_failed_ones_too(sqlite_settings: Settings,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "in"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text("Staff get 25 days of annual leave.\n" * 40)
    (folder / "broken.pdf").write_bytes(b"%PDF-1.7\n" + b"\x00" * 300)  # fails to parse
    (folder / "sub" / "more.md").write_text("# More\n\nThe canteen closes at three.\n")
    from sovra.data.ingest import expand

    files = expand([folder])
    opened = open_instance(lockbox_off(sqlite_settings))
    try:
        dealt: list[Share] = []
        opened.keys.init(threshold=1, shares=1, deliver=dealt.extend, actor="test-operator")
        opened.data.use_embedder(Embedder())
        opened.data.create_collection(ADMIN, CollectionSpec(
            "hr", "HR", "staff handbook", ("staff",), ("contact",), 365, "EU-DE",
            Classification.CONFIDENTIAL))
        meter = Meter(None, None, bytes_of(files))
        summary = opened.data.ingest_paths(ADMIN, "hr", files, progress=meter.file_done)
    finally:
        opened.close()
    assert summary.count("ingested") == 2 and summary.count("failed") == 1
    assert meter.total == sum(p.stat().st_size for p in files)
    assert meter.done == meter.total  # the bar ends full, failures counted
    assert meter.label in {p.name for p in files}


def test_ingest_prints_the_same_answer_with_or_without_a_bar(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    key = prepared_admin_key(load_settings(data_dir=data_dir))
    folder = tmp_path / "docs"
    folder.mkdir()
    for index in range(3):
        (folder / f"note-{index}.txt").write_text(f"Note {index}: the office opens at 8.\n")
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200",
           "SOVRA_API_KEY": key}
    env.pop("FORCE_COLOR", None)
    outputs = []
    for collection, extra in (("plain", {}), ("drawn", {"FORCE_COLOR": "1"})):
        sovra = [*sovra_command()]
        subprocess.run([*sovra, "data", "collection", "create", collection, "--owner", "ops",
                        "--purpose", "notes", "--subjects", "staff", "--data", "notes",
                        "--retention-days", "30", "--jurisdiction", "EU-DE"],
                       env=env, check=True, capture_output=True, timeout=120)
        done = subprocess.run([*sovra, "data", "ingest", collection, str(folder)],
                              env={**env, **extra}, capture_output=True, text=True,
                              timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append((ANSI.sub("", done.stdout), ANSI.sub("", done.stderr)))
    (plain_out, plain_err), (drawn_out, drawn_err) = outputs
    assert "3 ingested, 0 unchanged, 0 failed" in plain_out
    assert plain_out == drawn_out  # the bar never reaches stdout
    assert "ingesting" not in plain_err and "note-" not in plain_err
    assert "note-" in drawn_err or "ingesting" in drawn_err  # drawn on stderr


def test_ledger_export_and_verify_print_the_same_with_or_without_a_bar(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    opened = open_instance(load_settings(data_dir=data_dir))
    try:
        start_for_up(opened.keys)
    finally:
        opened.close()
    env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "200"}
    env.pop("FORCE_COLOR", None)
    drawn = {**env, "FORCE_COLOR": "1"}
    archive = tmp_path / "ledger.tar"

    def sovra(environ: dict[str, str], *args: str) -> tuple[str, str]:
        done = subprocess.run([*sovra_command(), "ledger", *args], env=environ,
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return ANSI.sub("", done.stdout), ANSI.sub("", done.stderr)

    exported, export_err = sovra(drawn, "export", str(archive))
    assert "exported" in exported and "exporting" in export_err
    plain = sovra(env, "verify", str(archive), "--json")
    with_bar = sovra(drawn, "verify", str(archive), "--json")
    quiet = sovra(drawn, "verify", str(archive), "--json", "--quiet")
    assert '"valid": true' in plain[0]
    assert plain[0] == with_bar[0] == quiet[0]  # the answer on stdout, bar or not
    assert "verifying ledger.tar" in with_bar[1]
    assert "verifying" not in plain[1] and "verifying" not in quiet[1]
