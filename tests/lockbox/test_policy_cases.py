"""The lockbox's approval rules are testable with ``sovra policy test`` (issue 16): the
cases shipped in docs/ hold against the default pack."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from sovra.cli.app import app

CASES = Path(__file__).parents[2] / "docs" / "lockbox-approval-rules.yaml"


def test_the_documented_approval_rules_hold_for_the_default_pack() -> None:
    result = CliRunner().invoke(app, ["policy", "test", str(CASES)])
    assert result.exit_code == 0, result.output
    assert "14 passed, 0 failed" in result.output
