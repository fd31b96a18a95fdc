"""Workload placement: fourteen realistic workloads placed by the default rules, with the
rules that decided each, and every kind of bad input refused with its line and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from sovra.assessment.placement import (
    Target,
    default_rules,
    load_inventory,
    load_rules,
    place_all,
)
from sovra.errors import InvalidInputError

HERE = Path(__file__).parent
INVENTORY = (HERE / "workloads.yaml").read_text()

EXPECTED = {
    "hospital-patient-records-assistant": ("on-premises", {
        "special-category-on-own-infrastructure", "health-data-hosting",
        "confidential-ai-next-to-data"}),
    "bank-public-website": ("public-cloud", set()),
    "defence-logistics-planner": ("disconnected", {
        "secret-stays-disconnected", "national-security-disconnected",
        "national-security-data-disconnected"}),
    "ministry-document-search": ("on-premises", {"confidential-ai-next-to-data"}),
    "bank-core-payments": ("partner-sovereign-cloud", {
        "confidential-needs-sovereign-operator", "dora-critical-function"}),
    "insurer-claims-triage": ("on-premises", {
        "special-category-on-own-infrastructure", "confidential-ai-next-to-data"}),
    "hr-policy-chatbot": ("sovereign-public-cloud", {"personal-data-in-eu-jurisdiction"}),
    "marketing-aggregate-analytics": ("public-cloud", set()),
    "police-intelligence-analysis": ("disconnected", {
        "secret-stays-disconnected", "national-security-disconnected",
        "national-security-data-disconnected"}),
    "developer-ci-pipelines": ("public-cloud", set()),
    "municipal-citizen-portal": ("sovereign-public-cloud", {"personal-data-in-eu-jurisdiction"}),
    "clinical-model-training": ("on-premises", {
        "special-category-on-own-infrastructure", "confidential-ai-next-to-data",
        "ai-training-on-personal-data"}),
    "grid-scada-analytics": ("on-premises", {"low-latency-on-site",
                                             "operational-technology-on-site"}),
    "trading-risk-reporting": ("partner-sovereign-cloud", {
        "confidential-needs-sovereign-operator", "dora-critical-function"}),
}


def test_fourteen_workloads_are_placed_with_the_rules_that_decided_them() -> None:
    placements = {p.workload.name: p for p in place_all(load_inventory(INVENTORY),
                                                        default_rules())}
    assert set(placements) == set(EXPECTED)
    for name, (target, deciding) in EXPECTED.items():
        got = placements[name]
        assert got.target.label == target, name
        assert {r.rule_id for r in got.deciding} == deciding, name


def test_controls_and_risks_come_from_the_target_and_every_rule_that_applied() -> None:
    placements = {p.workload.name: p for p in place_all(load_inventory(INVENTORY),
                                                        default_rules())}
    payments = placements["bank-core-payments"]
    assert "PCI DSS network segmentation and quarterly scans" in payments.controls
    assert "restore drill measured against the RTO" in payments.controls  # rto_hours 2
    assert "DORA Art. 28 register of information entry" in payments.controls
    assert any("lockbox" in c for c in payments.controls)  # the partner target's own
    assert payments.ceiling is Target.ON_PREMISES  # partner connectivity: not air-gapped
    website = placements["bank-public-website"]
    assert any("CLOUD Act" in r for r in website.residual_risks)
    assert website.deciding == ()


def test_csv_inventory_places_like_yaml() -> None:
    csv_text = (
        "name,classification,personal_data,criticality,connectivity,data_classes,regimes,ai_use\n"
        "patient-assistant,confidential,yes,high,internal,personal;health,gdpr,rag\n"
        "website,public,no,medium,internet,,,none\n")
    placed = place_all(load_inventory(csv_text, "inventory.csv"), default_rules())
    assert [(p.workload.name, p.target.label) for p in placed] == [
        ("patient-assistant", "on-premises"), ("website", "public-cloud")]


@pytest.mark.parametrize(("text", "message"), [
    (("workloads:\n  - name: a\n    classification: secrett\n    personal_data: no\n"
     "    criticality: low\n    connectivity: none\n"),
     "inventory:2: unknown classification 'secrett'"),
    (("workloads:\n  - name: a\n    classification: public\n    personal_data: no\n"
     "    criticality: low\n    connectivity: none\n    regimes: [gdpr, hippa]\n"),
     "inventory:2: unknown regime 'hippa'; use one of"),
    (("workloads:\n  - name: a\n    classification: public\n    personal_data: no\n"
     "    criticality: low\n    connectivity: none\n  - name: b\n    classification: public\n"
     "    criticality: low\n    connectivity: none\n"),
     "inventory:7: missing personal_data"),
    (("workloads:\n  - name: a\n    classification: public\n    personal_data: no\n"
     "    criticality: low\n    connectivity: none\n    colour: red\n"),
     "inventory:2: unknown field(s) colour"),
    (("workloads:\n  - name: a\n    classification: public\n    personal_data: no\n"
     "    criticality: low\n    connectivity: none\n  - name: a\n    classification: public\n"
     "    personal_data: no\n    criticality: low\n    connectivity: none\n"),
     "inventory:7: workload 'a' is already defined at inventory:2"),
    ("workloads: [\n", "inventory:2: not valid YAML"),
    ("workloads: []\n", "the inventory lists no workloads"),
    ("workloads:\n  - name: a\x85\x9f\n", "inventory:1: not valid YAML"),  # C1 controls
    (("name,classification,personal_data,criticality,connectivity\n"
     "a,public,maybe,low,none\n"), "inventory.csv:2: personal_data must be true or false"),
])
def test_bad_inventory_is_refused_naming_the_line(text: str, message: str) -> None:
    name = "inventory.csv" if text.startswith("name,") else "inventory"
    with pytest.raises(InvalidInputError) as caught:
        load_inventory(text, name)
    assert message in str(caught.value)


def test_conflicting_rules_name_the_workload_line_and_both_rules() -> None:
    text = ("workloads:\n  - name: secret-but-online\n    classification: secret\n"
            "    personal_data: no\n    criticality: low\n    connectivity: internet\n")
    with pytest.raises(InvalidInputError) as caught:
        place_all(load_inventory(text), default_rules())
    message = str(caught.value)
    assert "inventory:2: workload 'secret-but-online' cannot be placed" in message
    assert "secret-stays-disconnected" in message
    assert "internet-facing-cannot-be-air-gapped" in message


def test_a_workload_left_unplaced_by_the_offered_targets_is_an_error() -> None:
    rules = load_rules("version: 1\ntargets:\n  - id: public-cloud\n"
                       "rules:\n  - id: pd\n    reason: personal data in the EU\n"
                       "    when: {personal_data: true}\n    at_least: sovereign-public-cloud\n")
    text = ("workloads:\n  - name: crm\n    classification: internal\n"
            "    personal_data: yes\n    criticality: low\n    connectivity: internet\n")
    with pytest.raises(InvalidInputError, match=r"inventory:2: workload 'crm' is left unplaced"):
        place_all(load_inventory(text), rules)


@pytest.mark.parametrize(("text", "message"), [
    ("version: 1\ntargets:\n  - id: on-prem\n", "rules:3: unknown placement target 'on-prem'"),
    (("version: 1\ntargets:\n  - id: on-premises\nrules:\n  - id: x\n    reason: r\n"
     "    when: {clasification_at_least: secret}\n    at_least: disconnected\n"),
     "rules:5: unknown condition 'clasification_at_least'"),
    (("version: 1\ntargets:\n  - id: on-premises\nrules:\n  - id: x\n    reason: r\n"
     "    when: {personal_data: true}\n"),
     "rules:5: rule 'x' has no effect"),
    (("version: 1\ntargets:\n  - id: on-premises\nrules:\n  - id: x\n"
     "    when: {personal_data: true}\n    at_least: on-premises\n"),
     "rules:5: rule 'x' needs a 'reason'"),
    (("version: 1\ntargets:\n  - id: on-premises\nrules:\n  - id: x\n    reason: r\n"
     "    at_least: disconnected\n    at_most: public-cloud\n"),
     "rules:5: rule 'x' sets at_least disconnected above its own at_most public-cloud"),
    ("version: 2\ntargets: []\n", "'version: 1' is the only rules format"),
])
def test_bad_rules_are_refused_naming_the_line(text: str, message: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        load_rules(text, "rules")
    assert message in str(caught.value)
