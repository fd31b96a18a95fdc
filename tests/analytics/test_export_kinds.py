"""The compliance report and threat sightings leave only through the diode: redacted,
approved by two people other than the requester, held to the ceiling, signed."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import pytest
import stix2

from sovra.analytics.export import verify_export
from sovra.analytics.export.rooms import period
from sovra.errors import InvalidInputError, PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.threat.hunt import Match
from tests.analytics.conftest import ADMIN, ANALYST
from tests.analytics.ledger import entries

ANN = Caller("ann", "user", frozenset({"approver"}), "secret")
ABE = Caller("abe", "user", frozenset({"approver"}), "secret")
AUDITOR = Caller("aud", "user", frozenset({"auditor"}), "secret")
LISTED_IP = "203.0.113.9"


def release(inst: Instance, export_id: str) -> dict[str, bytes]:
    inst.exports.approve(ANN, export_id)
    assert inst.exports.approve(ABE, export_id).state == "released"
    path = inst.exports.bundle_path(ANN, export_id)
    return verify_export(path, inst.exports.root(), datetime.now(UTC)).files


def raise_alert(inst: Instance) -> None:
    now = time.time()
    inst.threat.alerts.raise_matches([Match(
        f"indicator:ip:{LISTED_IP}", f"Request from listed address {LISTED_IP}", "high",
        (("ip", LISTED_IP),), (1,), now - 60, now)])


def test_the_signed_compliance_report_leaves_through_the_diode(hr: Instance) -> None:
    made = hr.exports.create(AUDITOR, "compliance")
    assert [f["name"] for f in made.listing] == ["compliance/report.json"]
    assert made.state == "pending" and made.requester == "aud"
    assert entries(hr, "compliance.report")[-1]["actor"] == "aud"  # the room recorded it
    files = release(hr, made.id)
    report = json.loads(files["compliance__report.json"])
    assert report["format"] == "sovra-compliance-report/1"
    assert report["signature"]["note"]


def test_asking_for_an_export_is_no_way_round_the_rooms_own_rule(hr: Instance) -> None:
    with pytest.raises(PermissionDeniedError):
        hr.exports.create(ANALYST, "compliance")  # analysts produce no compliance reports
    with pytest.raises(PermissionDeniedError):
        hr.exports.create(ANALYST, "threat")  # nor read threat alerts
    assert [e["outcome"] for e in entries(hr, "export.create")] == ["denied", "denied"]
    assert hr.exports.count() == 0


def test_threat_sightings_leave_as_a_stix_bundle_with_addresses_redacted(
        hr: Instance) -> None:
    with pytest.raises(InvalidInputError, match="no threat alerts"):
        hr.exports.create(AUDITOR, "threat")
    raise_alert(hr)
    made = hr.exports.create(AUDITOR, "threat", "open")
    assert made.listing[0]["redacted"] == {"ip_address": 1}  # the sighting description
    review = hr.exports.review(ANN, made.id)
    assert LISTED_IP in review.diff and "[IP_ADDRESS]" in review.diff
    files = release(hr, made.id)
    text = files["threat__sightings.stix.json"].decode()
    assert LISTED_IP not in text
    bundle = stix2.parse(text, allow_custom=False)
    kinds = [o.type for o in bundle.objects]
    assert kinds == ["identity", "sighting"]
    sighting = bundle.objects[1]
    assert sighting.where_sighted_refs == [bundle.objects[0].id]
    assert sighting.sighting_of_ref.startswith("indicator--")


def test_the_ceiling_holds_for_both_kinds(hr: Instance) -> None:
    raise_alert(hr)
    text = hr.policy.show().text
    lowered = text.replace("resource.classification > 1", "resource.classification > 0")
    assert lowered != text
    proposal = hr.policy.propose(ADMIN, lowered, "nothing internal leaves")
    hr.policy.approve(ANN, proposal.version)
    for kind, subject in (("compliance", ""), ("threat", "open")):
        with pytest.raises(PermissionDeniedError, match="above the export ceiling"):
            hr.exports.create(ADMIN, kind, subject)
    assert hr.exports.count() == 0


def test_a_period_is_since_until() -> None:
    assert period("2026-01-01..2026-02-01", 0.0) == (1767225600.0, 1769904000.0)
    assert period("", 1000.0 * 86400) == (1000.0 * 86400 - 365 * 86400, 1000.0 * 86400)
    with pytest.raises(InvalidInputError, match=r"SINCE\.\.UNTIL"):
        period("2026-01-01", 0.0)
