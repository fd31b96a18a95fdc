"""Sovra's OSCAL content (catalog, one profile per regime, component-definition) and a
report as OSCAL assessment-results and a POA&M. Plain dicts in OSCAL 1.1 JSON, with
UUIDs derived from names (uuid5) so regenerating gives the same files; compliance-trestle
validates them (tests/compliance/test_oscal.py runs ``trestle validate -a``).

``python -m sovra.compliance.oscal WORKSPACE`` writes the content into a trestle
workspace (``trestle init`` first).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sovra
from sovra.compliance.catalog import CONTROLS, REGIMES

OSCAL_VERSION = "1.1.2"
LAST_MODIFIED = "2026-12-01T00:00:00+00:00"  # of the content below; bump with it
_NS = uuid.UUID("5b0d6f6e-8f3c-4a52-9d0e-50a7c0ffee19")
CATALOG_HREF = "trestle://catalogs/sovra/catalog.json"
REGIME_TITLES = {"gdpr": "GDPR (Regulation (EU) 2016/679)",
                 "dora": "DORA (Regulation (EU) 2022/2554) and RTS (EU) 2024/1774",
                 "nis2": "NIS2 (Directive (EU) 2022/2555)",
                 "ai-act": "EU AI Act (Regulation (EU) 2024/1689)"}


def _uuid(*names: str) -> str:
    return str(uuid.uuid5(_NS, "/".join(names)))


def _metadata(title: str, last_modified: str = LAST_MODIFIED) -> dict[str, Any]:
    return {"title": title, "last-modified": last_modified, "version": sovra.__version__,
            "oscal-version": OSCAL_VERSION}


def catalog() -> dict[str, Any]:
    return {"catalog": {
        "uuid": _uuid("catalog"),
        "metadata": _metadata("Sovra controls"),
        "controls": [{
            "id": c.id, "title": c.title,
            "props": [{"name": "label", "value": c.id.upper()}],
            "parts": [{"id": f"{c.id}_smt", "name": "statement", "prose": c.statement},
                      {"id": f"{c.id}_gdn", "name": "guidance",
                       "prose": f"Evidenced by the ledger and state of {c.room}."}],
        } for c in CONTROLS],
    }}


def profile(regime: str) -> dict[str, Any]:
    articles = REGIMES[regime]
    ids = sorted({c for found in articles.values() for c in found})
    alters = []
    for control_id in ids:
        labels = [a for a, found in articles.items() if control_id in found]
        alters.append({"control-id": control_id, "adds": [{
            "position": "ending",
            "props": [{"name": "regulation-article", "value": f"{regime} {a}"}
                      for a in labels]}]})
    return {"profile": {
        "uuid": _uuid("profile", regime),
        "metadata": _metadata(f"Sovra controls for {REGIME_TITLES[regime]}"),
        "imports": [{"href": CATALOG_HREF, "include-controls": [{"with-ids": ids}]}],
        "merge": {"as-is": True},
        "modify": {"alters": alters},
    }}


def component_definition() -> dict[str, Any]:
    return {"component-definition": {
        "uuid": _uuid("component-definition"),
        "metadata": _metadata("Sovra, a sovereign AI cloud"),
        "components": [{
            "uuid": _uuid("component", "sovra"), "type": "software", "title": "Sovra",
            "description": "Self-hosted sovereign AI cloud: ledger, key custody, policy, "
                           "lockbox, governed data, AI gateway, signed bundles, continuity.",
            "control-implementations": [{
                "uuid": _uuid("implementation", "sovra"), "source": CATALOG_HREF,
                "description": "Each control is evidenced by a collector over the ledger.",
                "implemented-requirements": [{
                    "uuid": _uuid("requirement", c.id), "control-id": c.id,
                    "description": f"{c.statement} Evidence: {c.room}.",
                } for c in CONTROLS],
            }],
        }],
    }}


def content() -> dict[str, dict[str, Any]]:
    """Workspace-relative path -> document, for ``trestle validate -a``."""
    found = {"catalogs/sovra/catalog.json": catalog(),
             "component-definitions/sovra/component-definition.json": component_definition()}
    for regime in REGIMES:
        found[f"profiles/sovra-{regime}/profile.json"] = profile(regime)
    return found


def _time(text: str) -> str:
    return text.replace("Z", "+00:00") if text.endswith("Z") else text


def results_documents(report: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """A signed report as OSCAL assessment-results and a plan of action and milestones."""
    digest = str(report["signature"]["note"]).split("\n")[2]
    when = _time(str(report["generated_at"]))
    claims = {c["id"]: c for c in report["claims"]}
    observations = [{
        "uuid": _uuid("observation", digest, cid),
        "title": cid, "description": f"{c['statement']}: {c['count']} ledger entries",
        "methods": ["EXAMINE"], "collected": when,
        "props": [{"name": "ledger-entries", "value": str(c["count"])}],
        "remarks": "cites ledger entries " + (", ".join(map(str, c["cites"][:50])) or "none"),
    } for cid, c in claims.items()]
    observed = {o["title"]: o["uuid"] for o in observations}
    findings = [{
        "uuid": _uuid("finding", digest, c["id"]), "title": c["id"],
        "description": c["summary"],
        "target": {"type": "objective-id", "target-id": f"{c['id']}_smt",
                   "status": {"state": "satisfied" if c["status"] == "satisfied"
                              else "not-satisfied",
                              "reason": c["status"]}},
        **({"related-observations": [{"observation-uuid": observed[i]}
                                     for i in c["claims"] if i in observed]}
           if c["claims"] else {}),
    } for c in report["controls"]]
    meta = _metadata(f"Sovra evidence {report['period']['since']} to "
                     f"{report['period']['until']}", when)
    meta["props"] = [{"name": "report-sha256", "value": digest}]
    results = {"assessment-results": {
        "uuid": _uuid("assessment-results", digest), "metadata": meta,
        "import-ap": {"href": "#sovra-assessment-plan"},
        "results": [{
            "uuid": _uuid("result", digest), "title": "Sovra compliance evidence",
            "description": f"Controls evidenced from ledger {report['origin']} at "
                           f"checkpoint {report['checkpoint']['size']}.",
            "start": _time(str(report["period"]["since"])),
            "end": _time(str(report["period"]["until"])),
            "reviewed-controls": {"control-selections": [{"include-controls": [
                {"control-id": c["id"]} for c in report["controls"]]}]},
            **({"observations": observations} if observations else {}),
            **({"findings": findings} if findings else {}),
        }],
    }}
    items = [{
        "uuid": _uuid("poam-item", digest, f["id"]), "title": f["title"],
        "description": f["description"],
        **({"related-observations": [{"observation-uuid": observed[i]}
                                     for i in f["claims"] if i in observed]}
           if any(i in observed for i in f["claims"]) else {}),
    } for f in report["findings"]]
    poam: dict[str, Any] = {"plan-of-action-and-milestones": {
        "uuid": _uuid("poam", digest), "metadata": meta,
        "system-id": {"identifier-type": "https://ietf.org/rfc/rfc4122",
                      "id": _uuid("system", str(report["origin"]))},
        **({"observations": observations} if observations else {}),
        "poam-items": items or [{"uuid": _uuid("poam-item", digest, "none"),
                                 "title": "No findings",
                                 "description": "Every evidenced control is satisfied."}],
    }}
    return {"assessment-results.json": results, "plan-of-action-and-milestones.json": poam}


def write_content(workspace: Path) -> list[Path]:
    written = []
    for rel, doc in content().items():
        path = workspace / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
        written.append(path)
    return written


if __name__ == "__main__":  # pragma: no cover - a maintainer's tool
    for p in write_content(Path(sys.argv[1])):
        sys.stdout.write(f"{p}\n")

__all__ = ["catalog", "component_definition", "content", "profile", "results_documents",
           "write_content"]
