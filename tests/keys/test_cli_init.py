"""`sovra init` in this process (Typer's runner): printing shares one screen at a time."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.keys import parse_share


def test_print_shows_each_share_once_and_writes_no_file(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    data = tmp_path / "data"
    result = CliRunner().invoke(app, ["--data-dir", str(data), "init", "-n", "3", "-m", "2",
                                      "--print"], input="\n\n\n")
    assert result.exit_code == 0, result.output
    tokens = [line for line in result.output.splitlines() if line.startswith("sovra-share-1:")]
    assert len(tokens) == 3
    shares = [parse_share(t) for t in tokens]
    assert [s.index for s in shares] == [1, 2, 3] and {s.threshold for s in shares} == {2}
    assert all(s.fingerprint in result.output for s in shares)
    assert not list(tmp_path.rglob("sovra-share-*.txt"))


def test_init_needs_a_destination_for_the_shares(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), "init"])
    assert result.exit_code == 2
    assert "--share-dir" in result.output
