"""``sovra bundle create`` refuses a Cedar pack that does not validate (issue 15): before,
the bundle was signed and carried across the air gap, and refused only at import."""

from __future__ import annotations

from pathlib import Path

import yaml
from typer.testing import CliRunner

from sovra.cli.app import app

runner = CliRunner()


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _repo(tmp_path: Path) -> tuple[Path, Path]:
    keys, repo = tmp_path / "keys", tmp_path / "repo"
    _ok("bundle", "keygen", "k1", "--out", str(keys))
    _ok("bundle", "root-init", "--repo", str(repo), "--threshold", "1",
        "--root-key", str(keys / "k1.pub.json"), "--keys", str(keys / "k1.key"))
    return keys, repo


def _spec(folder: Path, cedar: str) -> Path:
    (folder / "pack.cedar").write_text(cedar)
    spec = folder / "bundle.yaml"
    spec.write_text(yaml.safe_dump({"name": "policy-bundle", "targets": [
        {"kind": "policy", "path": "pack.cedar", "component": "baseline", "version": "1"}]}))
    return spec


def test_a_pack_that_does_not_parse_is_not_signed(tmp_path: Path) -> None:
    keys, repo = _repo(tmp_path)
    out = tmp_path / "bundle.tar"
    spec = _spec(tmp_path, 'permit (principal, action == Action::"nope", resource) when {')
    refused = runner.invoke(app, ["bundle", "create", str(spec), "--repo", str(repo),
                                  "--out", str(out), "--keys", str(keys / "k1.key")],
                            env={"COLUMNS": "200"})
    assert refused.exit_code == 2, refused.output
    assert "pack.cedar does not validate" in " ".join(refused.output.split())
    assert not out.exists()


def test_a_valid_pack_is_signed(tmp_path: Path) -> None:
    keys, repo = _repo(tmp_path)
    out = tmp_path / "bundle.tar"
    spec = _spec(tmp_path, '@id("readers")\npermit (principal in Role::"auditor", '
                 'action == Action::"ledger.read", resource);\n')
    _ok("bundle", "create", str(spec), "--repo", str(repo), "--out", str(out),
        "--keys", str(keys / "k1.key"))
    assert out.exists()
