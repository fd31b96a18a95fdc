"""``sovra audit`` and ``sovra incident`` against a real embedded instance."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from sovra.cli.app import app
from sovra.config import load_settings
from sovra.instance import open_instance

INCIDENT = re.compile(r"\binc-[0-9a-f]{12}\b")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def keys(data_dir: Path) -> dict[str, str]:
    inst = open_instance(load_settings(data_dir=data_dir, checkpoint_interval_s=0.0))
    made = {}
    try:
        for principal, role in [("aud", "auditor"),
                                ("ana", "analyst"), ("apr", "approver")]:
            inst.identity.create_principal("test", principal, roles=[role])
            made[principal] = inst.identity.create_api_key("test", principal).token
        inst.ledger.append("x", "policy.decision", "d", "denied", {})
    finally:
        inst.close()
    return made


def sovra(data_dir: Path | None, key: str, *args: str) -> tuple[int, str]:
    prefix = ["--data-dir", str(data_dir)] if data_dir else []
    result = CliRunner().invoke(app, [*prefix, *args],
                                env={"SOVRA_API_KEY": key, "SOVRA_CHECKPOINT_INTERVAL_S": "0",
                                     "COLUMNS": "200"})
    return result.exit_code, result.output


def test_report_then_check_offline(data_dir: Path, keys: dict[str, str],
                                   tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    oscal = tmp_path / "oscal"
    code, text = sovra(data_dir, keys["aud"], "audit", "report", "--out", str(out),
                       "--oscal", str(oscal), "--html", str(tmp_path / "r.html"))
    assert code == 0, text
    assert "sovra-report" in (tmp_path / "r.html").read_text()
    assert "sov-drl-1" in text and "findings" in text
    assert (oscal / "plan-of-action-and-milestones.json").exists()
    # the check runs with no instance at all
    code, text = sovra(None, "", "audit", "check", str(out))
    assert code == 0, text
    assert "valid:" in text
    doc = json.loads(out.read_text())
    doc["claims"][0]["count"] += 1
    out.write_text(json.dumps(doc))
    code, text = sovra(None, "", "audit", "check", str(out), "--json")
    assert code == 1
    assert f"claim {doc['claims'][0]['id']}" in text


def test_check_of_an_unreadable_report_exits_3(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    code, text = sovra(None, "", "audit", "check", str(bad))
    assert code == 3 and "cannot read the report" in text
    code, _ = sovra(None, "", "audit", "check", str(tmp_path / "missing.json"))
    assert code == 3


def test_report_refusals(data_dir: Path, keys: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    code, text = sovra(data_dir, keys["ana"], "audit", "report", "--out", str(out))
    assert code == 5 and not out.exists()
    code, text = sovra(data_dir, keys["aud"], "audit", "report", "--out", str(out),
                       "--regime", "sox")
    assert code == 2 and "unknown regime 'sox'" in text
    code, text = sovra(data_dir, keys["aud"], "audit", "report", "--out", str(out),
                       "--since", "2001-01-01", "--until", "2001-02-01")
    assert code == 2 and "no entries between" in text and not out.exists()
    code, text = sovra(data_dir, keys["aud"], "audit", "report", "--out", str(out),
                       "--since", "yesterday")
    assert code == 2 and "not a date" in text


def test_incident_open_classify_notify_list_draft(data_dir: Path,
                                                   keys: dict[str, str]) -> None:
    aware = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - 4 * 86400))
    code, text = sovra(data_dir, keys["apr"], "incident", "open", "--title", "leak",
                       "--aware-at", aware)
    assert code == 0, text
    found = INCIDENT.search(text)
    assert found is not None
    incident = found.group()
    code, text = sovra(data_dir, keys["apr"], "incident", "classify", incident,
                       "--nis2-significant", "--gdpr-breach")
    assert code == 0 and "overdue" in text
    code, text = sovra(data_dir, keys["apr"], "incident", "notify", incident,
                       "nis2.early_warning", "--reference", "CSIRT-1")
    assert code == 0 and "late" in text
    code, text = sovra(data_dir, keys["apr"], "incident", "list")
    assert code == 0 and f"OVERDUE {incident} gdpr.authority" in text
    pdf = data_dir.parent / "draft.pdf"
    code, text = sovra(data_dir, keys["aud"], "incident", "draft", incident, "gdpr.authority",
                       "--pdf", str(pdf))
    assert code == 0
    assert json.loads(text)["incident_reference_code"] == incident
    if shutil.which("pdftotext"):
        form = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True,
                              check=True, timeout=60).stdout
        assert "Draft: gdpr.authority" in form and "categories of data subjects" in form
    code, text = sovra(data_dir, keys["aud"], "incident", "open", "--title", "x")
    assert code == 5


def test_registers_from_the_cli(data_dir: Path, keys: dict[str, str], tmp_path: Path) -> None:
    good = tmp_path / "suppliers.csv"
    good.write_text("name,country,currency,annual_expense\nNordic Hosting Oy,FI,EUR,1200\n")
    out = tmp_path / "roi.csv"
    code, text = sovra(data_dir, keys["aud"], "audit", "register-of-information",
                       "--inventory", str(good), "--out", str(out))
    assert code == 0, text
    assert "Nordic Hosting Oy,legal,FI,EUR,1200" in out.read_text()
    bad = tmp_path / "bad.csv"
    bad.write_text("name,country\nX,Finland\n")
    code, text = sovra(data_dir, keys["aud"], "audit", "register-of-information",
                       "--inventory", str(bad), "--out", str(tmp_path / "no.csv"))
    assert code == 2 and "bad.csv line 2: country 'Finland'" in text
    assert not (tmp_path / "no.csv").exists()
    code, text = sovra(data_dir, keys["aud"], "audit", "erasures", "--out",
                       str(tmp_path / "e.json"))
    assert code == 0 and json.loads((tmp_path / "e.json").read_text()) == []
    code, text = sovra(data_dir, keys["aud"], "audit", "records", "--out",
                       str(tmp_path / "r.json"))
    assert code == 0, text
