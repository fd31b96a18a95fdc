"""The reports page: a compliance report and a readiness assessment generated from the
console, listed, shown with their charts, downloaded as JSON and PDF; a kept report
that no longer matches its ledger entry is refused, not served."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from sovra.assessment.readiness.service import digest
from sovra.compliance.document import signed_digest
from sovra.instance import Instance
from sovra.keys import start_for_up
from tests.support.console import console_for, csrf_of, no_inline_code


def _generate(client: TestClient, kind: str, **fields: str) -> int:
    page = client.get("/console/reports")
    assert page.status_code == 200, page.text
    made = client.post(f"/console/reports/{kind}", data={"csrf": csrf_of(page.text),
                                                         **fields}, follow_redirects=False)
    assert made.status_code == 303, made.text
    shown = client.get(made.headers["location"])
    assert f"generated the {kind} report recorded at entry" in shown.text
    return int(shown.text.split(f"generated the {kind} report recorded at entry ")[1]
               .split("<")[0].strip())


def test_an_auditor_generates_lists_and_downloads_both_reports(inst: Instance) -> None:
    start_for_up(inst.keys)
    auditor = console_for(inst, "aude", "auditor")
    home = auditor.get("/console/")
    assert 'href="/console/reports"' in home.text
    compliance = _generate(auditor, "compliance", regimes="gdpr")
    assessment = _generate(auditor, "assessment")
    listed = auditor.get("/console/reports")
    assert f'href="/console/reports/compliance/{compliance}.pdf"' in listed.text
    assert f'href="/console/reports/assessment/{assessment}.json"' in listed.text

    body = auditor.get(f"/console/reports/compliance/{compliance}.json")
    assert body.status_code == 200
    assert "attachment" in body.headers["content-disposition"]
    document = body.json()
    entry = json.loads(inst.ledger.entry(compliance).body)
    assert entry["action"] == "compliance.report" and entry["actor"] == "aude"
    assert entry["details"]["sha256"] == signed_digest(document)
    assert entry["details"]["regimes"] == ["gdpr"]
    pdf = auditor.get(f"/console/reports/compliance/{compliance}.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert pdf.headers["content-type"] == "application/pdf"

    assessed = auditor.get(f"/console/reports/assessment/{assessment}.json").json()
    assert json.loads(inst.ledger.entry(assessment).body)["details"]["sha256"] \
        == digest(assessed)
    assert auditor.get(f"/console/reports/assessment/{assessment}.pdf"
                       ).content.startswith(b"%PDF")

    shown = auditor.get(f"/console/reports/compliance/{compliance}")
    assert shown.status_code == 200 and 'id="chart"' in shown.text and "<svg" in shown.text
    no_inline_code(shown.text)
    layers = auditor.get(f"/console/reports/assessment/{assessment}")
    assert "<meter" in layers.text and f"SEAL-{assessed['seal']['level']}" in layers.text


def test_a_kept_report_edited_on_disk_is_refused(inst: Instance) -> None:
    start_for_up(inst.keys)
    auditor = console_for(inst, "aude", "auditor")
    seq = _generate(auditor, "assessment")
    kept = inst.settings.data_dir / "console" / "reports" / f"assessment-{seq}.json"
    document = json.loads(kept.read_text())
    document["seal"]["level"] = 4
    kept.write_text(json.dumps(document))
    refused = auditor.get(f"/console/reports/assessment/{seq}.json")
    assert refused.status_code == 409
    assert "is not the one ledger entry" in refused.text
    assert auditor.get(f"/console/reports/compliance/{seq}.json").status_code == 404
    assert auditor.get(f"/console/reports/assessment/{seq}.exe").status_code == 404


def test_a_user_without_reporting_rights_gets_no_report(inst: Instance) -> None:
    analyst = console_for(inst, "pat", "analyst")
    assert 'href="/console/reports"' not in analyst.get("/console/").text
    assert analyst.get("/console/reports").status_code == 403
    page = analyst.get("/console/")
    made = analyst.post("/console/reports/compliance", data={"csrf": csrf_of(page.text)})
    assert made.status_code == 403
    assert not list((inst.settings.data_dir / "console").glob("reports/*.json"))
