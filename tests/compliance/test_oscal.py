"""OSCAL: the shipped trestle workspace is what the catalog table generates, and
``trestle validate -a`` passes on it and on a report's assessment-results and POA&M."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from sovra.compliance import oscal
from tests.compliance.conftest import Seeded

CONTENT = Path(oscal.__file__).parent / "content"
TRESTLE = Path(sys.executable).parent / "trestle"


def _validate(workspace: Path) -> str:
    done = subprocess.run([str(TRESTLE), "validate", "-a"], cwd=workspace,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_shipped_content_is_generated_from_the_catalog_table() -> None:
    for rel, doc in oscal.content().items():
        assert json.loads((CONTENT / rel).read_text()) == doc, rel


def test_every_regime_profile_names_its_articles() -> None:
    dora = json.dumps(oscal.profile("dora"))
    assert "dora Art. 12" in dora and "RTS 2024/1774 Art. 12" in dora
    nis2 = json.dumps(oscal.profile("nis2"))
    assert all(f"Art. 21(2)({x})" in nis2 for x in "abcdefghij")


def test_trestle_validates_content_and_report(seeded: Seeded, tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    shutil.copytree(CONTENT, workspace)
    docs = oscal.results_documents(seeded.report)
    for name, doc in docs.items():
        folder = workspace / name.removesuffix(".json") / "sovra"
        folder.mkdir(parents=True)
        (folder / name).write_text(json.dumps(doc))
    out = _validate(workspace)
    assert out.count("VALID: Model") == 8, out
    findings = docs["assessment-results.json"]["assessment-results"]["results"][0]["findings"]
    unmet = {f["title"] for f in findings if f["target"]["status"]["state"] == "not-satisfied"}
    assert {"sov-pol-1", "sov-drl-1", "sov-inc-1"} <= unmet
    items = docs["plan-of-action-and-milestones.json"]["plan-of-action-and-milestones"]
    assert len(items["poam-items"]) == len(seeded.report["findings"])
