"""The readiness assessment read from real instances: a fresh development-mode one
scores low on custody and operation with those gaps named; configuring M-of-N custody,
lockbox notifications, a witness and a restore drill raises the scores by exactly the
weights of the criteria that became met."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.assessment.readiness.criteria import BY_ID, CRITERIA, LAYERS, OBJECTIVES
from sovra.assessment.readiness.document import diff
from sovra.assessment.readiness.service import digest, run
from sovra.continuity import run_drill
from sovra.instance import Instance
from tests.assessment.readiness_support import (
    ASSESSOR,
    CONFIGURED,
    FILLED,
    Made,
    configured_instance,
    dev_instance,
)


@pytest.fixture
def dev(tmp_path: Path) -> Iterator[Instance]:
    inst = dev_instance(tmp_path / "dev")
    try:
        yield inst
    finally:
        inst.close()


@pytest.fixture
def configured(tmp_path: Path) -> Iterator[Made]:
    made = configured_instance(tmp_path / "prod")
    try:
        report = run_drill(made.instance, actor="ops",
                           shares=[s.token() for s in made.shares])
        assert report.passed, report.checks
        yield made
    finally:
        made.instance.close()


def _status(doc: dict[str, object]) -> dict[str, str]:
    return {c["id"]: c["status"] for c in doc["criteria"]}  # type: ignore[attr-defined]


def test_a_fresh_dev_instance_scores_low_on_custody_and_operation(dev: Instance) -> None:
    doc = run(dev, ASSESSOR).document
    status = _status(doc)
    assert status["data.custody"] == "unmet" and status["operation.lockbox"] == "unmet"
    assert doc["layers"]["data"]["percent"] < 25  # only erasure (3 of 66) is met
    assert doc["layers"]["operation"]["percent"] < 25
    gaps = {g["criterion"]: g for g in doc["gaps"]}
    custody = gaps["data.custody"]
    assert "development mode" in custody["observed"]
    assert "sovra init" in custody["remedy"] and custody["weight"] == 27
    assert custody["phase"] == "immediate"
    assert custody["ledger_entries"]  # the dev ceremony's keys.init entry
    first = dev.ledger.entry(custody["ledger_entries"][0])
    assert json.loads(first.body)["action"] == "keys.init"
    assert "no lockbox notification sink" in gaps["operation.lockbox"]["observed"]
    # Keys in the data directory cap the level, whatever the other scores.
    assert doc["seal"]["level"] <= 1


def test_configuring_the_rooms_raises_the_scores_exactly_as_the_criteria_say(
        dev: Instance, configured: Made) -> None:
    before = run(dev, ASSESSOR).document
    after = run(configured.instance, ASSESSOR).document
    b, a = _status(before), _status(after)
    became_met = {c for c in a if a[c] == "met" and b[c] != "met"}
    assert became_met == CONFIGURED
    assert not {c for c in b if b[c] == "met" and a[c] != "met"}
    for layer in LAYERS:
        gained = sum(BY_ID[c].weight for c in became_met if BY_ID[c].layer == layer)
        assert (after["layers"][layer]["met_weight"]
                - before["layers"][layer]["met_weight"]) == gained, layer
        assert after["layers"][layer]["total_weight"] == before["layers"][layer][
            "total_weight"]
    assert after["layers"]["data"]["met_weight"] - before["layers"]["data"][
        "met_weight"] == 27
    assert after["layers"]["continuity"]["met_weight"] - before["layers"]["continuity"][
        "met_weight"] == 6
    changes = diff(before, after)
    assert set(changes["now_met"]) == CONFIGURED and not changes["no_longer_met"]
    assert changes["layers"]["operation"]["change"] > 0
    drill = next(c for c in after["criteria"] if c["id"] == "continuity.drill")
    entry = json.loads(configured.instance.ledger.entry(drill["ledger_entries"][-1]).body)
    assert entry["action"] == "continuity.drill" and entry["details"]["passed"] is True
    witness = next(c for c in after["criteria"] if c["id"] == "infrastructure.witness")
    assert "witness.example.eu/w1" in witness["observed"]
    deps = {(d["kind"], d["component"]) for d in after["dependencies"]}
    assert ("witness", "witness.example.eu/w1") in deps


def test_each_run_is_recorded_with_the_documents_digest(configured: Made) -> None:
    made = run(configured.instance, ASSESSOR, FILLED)
    entry = json.loads(configured.instance.ledger.entry(made.ledger_seq or 0).body)
    assert entry["action"] == "assessment.run" and entry["actor"] == ASSESSOR.principal_id
    assert entry["details"]["sha256"] == digest(made.document) == made.sha256
    assert entry["details"]["seal"] == made.document["seal"]["level"]
    assert entry["details"]["layers"]["data"] == made.document["layers"]["data"]["percent"]


def test_questionnaire_answers_score_and_extraterritorial_exposure_caps_the_seal(
        configured: Made) -> None:
    doc = run(configured.instance, ASSESSOR, FILLED).document
    status = _status(doc)
    assert status["infrastructure.physical-access"] == "met"
    assert status["operation.staff-vetting"] == "unmet"  # partial is a gap
    assert status["compliance.supplier-contracts"] == "unmet"
    questions = {q["id"]: q for q in doc["questions"]}
    assert questions["extraterritorial"]["evidenced"]
    assert "questionnaire: yes" in questions["extraterritorial"]["answer"]
    assert questions["recovery"]["ledger_entries"]
    no_q = run(configured.instance, ASSESSOR).document
    assert {q["id"]: q for q in no_q["questions"]}["extraterritorial"]["answer"] == (
        "not evidenced")
    exposed = FILLED.replace("extraterritorial_exposure:\n  answer: yes",
                             "extraterritorial_exposure:\n  answer: no")
    capped = run(configured.instance, ASSESSOR, exposed).document
    assert capped["seal"]["level"] <= 1
    assert capped["seal"]["level"] == 1 or capped["seal"]["uncapped_level"] <= 1


def test_absent_rooms_are_not_evidenced_never_met(dev: Instance) -> None:
    doc = run(dev, ASSESSOR).document
    egress = next(c for c in doc["criteria"] if c["id"] == "compliance.egress")
    assert egress["status"] == "not-evidenced"  # no egress room in this instance
    assert "compliance.egress" in {g["criterion"] for g in doc["gaps"]}


def test_the_plan_is_an_oscal_poam_in_three_phases(dev: Instance) -> None:
    doc = run(dev, ASSESSOR).document
    poam = doc["plan"]["plan-of-action-and-milestones"]
    assert len(poam["poam-items"]) == len(doc["gaps"]) == len(poam["risks"])
    phases = [g["phase"] for g in doc["gaps"]]
    order = ["immediate", "90 days", "12 months"]
    assert phases == sorted(phases, key=order.index)  # ordered by phase
    assert set(phases) <= set(order)
    risk = poam["risks"][0]
    assert risk["remediations"][0]["title"] and risk["deadline"] > doc["generated_at"]


def test_the_catalogue_weights_and_objectives() -> None:
    assert sum(w for _, w in OBJECTIVES.values()) == 100
    assert {c.objective for c in CRITERIA} == set(OBJECTIVES)  # every objective measured
    assert {c.layer for c in CRITERIA} == set(LAYERS)
    weights = {(c.kind.value, c.mandatory): c.weight for c in CRITERIA}
    assert weights[("preventive", True)] == 27 and weights[("preventive", False)] == 9
    assert weights[("detective", True)] == 3 and weights[("corrective", False)] == 1


def test_an_external_unapproved_model_is_three_ai_gaps_and_a_dependency(
        dev: Instance) -> None:
    from sovra.ai.models import ModelSpec
    from sovra.identity import Caller

    admin = Caller("alice", "user", frozenset({"admin"}), "secret")
    approver = Caller("abe", "user", frozenset({"approver"}), "secret")
    dev.ai.registry.register(admin, ModelSpec(
        model_id="frontier-x", kind="chat", locality="external", sha256="ab" * 32,
        source="https://models.example.com/frontier-x", licence="proprietary",
        ceiling="internal", upstream_url="https://api.example.com/v1"))
    before = run(dev, ASSESSOR).document
    status = _status(before)
    assert status["ai.models-approved"] == status["ai.local-inference"] == "unmet"
    assert status["ai.models-verified"] == "unmet"  # no signed bundle delivered it
    assert before["layers"]["ai"]["met_weight"] == 0
    deps = {(d["kind"], d["component"]): d for d in before["dependencies"]}
    assert deps[("upstream", "upstream api.example.com")]["operator"] == "api.example.com"
    assert deps[("model", "frontier-x")]["supplier"] == "https://models.example.com/frontier-x"
    offline = next(q for q in before["questions"] if q["id"] == "offline")
    assert "frontier-x" in offline["answer"]
    dev.ai.registry.approve(approver, "frontier-x")
    after = run(dev, ASSESSOR).document
    assert _status(after)["ai.models-approved"] == "met"
    assert after["layers"]["ai"]["met_weight"] == BY_ID["ai.models-approved"].weight == 27
    approved = next(c for c in after["criteria"] if c["id"] == "ai.models-approved")
    entry = json.loads(dev.ledger.entry(approved["ledger_entries"][-1]).body)
    assert entry["action"] == "models.approve" and entry["actor"] == "abe"


def test_a_signed_compliance_report_is_cited_as_evidence(configured: Made) -> None:
    import time

    from sovra.compliance.report import generate

    inst = configured.instance
    assert _status(run(inst, ASSESSOR).document)["compliance.evidence-report"] == "unmet"
    now = time.time()
    made = generate(inst, since=now - 3600, until=now + 3600, actor="auditor-ann")
    doc = run(inst, ASSESSOR).document
    fact = next(c for c in doc["criteria"] if c["id"] == "compliance.evidence-report")
    assert fact["status"] == "met" and fact["ledger_entries"] == [made.ledger_seq]
    audit = next(q for q in doc["questions"] if q["id"] == "privileged-audit")
    assert made.ledger_seq in audit["ledger_entries"]


def test_a_breakglass_grant_not_reviewed_in_time_is_a_gap_citing_it(tmp_path: Path) -> None:
    from sovra.config import load_settings
    from sovra.identity import Caller
    from sovra.instance import open_instance
    from sovra.lockbox.values import RequestSpec, Scope

    # A review window of a millisecond: the grant's review is overdue at once.
    inst = open_instance(load_settings(data_dir=tmp_path / "bg", checkpoint_interval_s=0.0,
                                       lockbox_review_window_s=0.001))
    try:
        inst.keys.init(threshold=2, shares=3, deliver=lambda shares: None)
        bree = Caller("bree", "user", frozenset({"breakglass"}), "secret", jurisdiction="EU")
        grant = inst.lockbox.breakglass(bree, RequestSpec(
            scope=Scope.parse("instance"), actions=("keys.status",), reason="P1 outage"))
        doc = run(inst, ASSESSOR).document
    finally:
        inst.close()
    fact = next(c for c in doc["criteria"] if c["id"] == "operation.breakglass-reviews")
    assert fact["status"] == "unmet" and grant.id in fact["observed"]
    assert "1 reviews overdue" in fact["observed"] and fact["ledger_entries"]
    operators = [d for d in doc["dependencies"] if d["kind"] == "operator-with-lockbox-access"]
    assert [(d["component"], d["jurisdiction"]) for d in operators] == [("bree", "EU")]


def test_the_components_of_a_bundles_sbom_enter_the_dependency_map(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sovra.assessment.readiness.dependencies import sbom_components
    from sovra.transfer.sbom import model_sbom
    from sovra.transfer.spec import ModelManifest, SbomComponent

    sbom = tmp_path / "m.cdx.json"
    sbom.write_bytes(model_sbom(
        "tiny", "1.0", "ab" * 32,
        manifest=ModelManifest(source="https://example.org/tiny", licence="Apache-2.0",
                               intended_use="tests"),
        parts=[SbomComponent(name="llama-cpp-python", version="0.3.2"),
               SbomComponent(name="tokenizer", version="7", type="file")],
        built_at=datetime(2026, 1, 1, tzinfo=UTC)))
    found = {(d.component, d.kind) for d in sbom_components(sbom, "tiny")}
    assert found == {("llama-cpp-python@0.3.2", "library"), ("tokenizer@7", "file")}
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    [unreadable] = sbom_components(broken, "tiny")
    assert "unreadable" in unreadable.source and unreadable.supplier == "unknown"
