"""A seeded instance with a known history, violations included, and its signed report.

The history goes through the real services where they allow it (key ceremony, policy
seed, witness cosignature, incident register); what the services refuse on purpose (a
policy approved by its own proposer, a model used without approval) is written to the
real ledger directly, as a compromised or older instance would have recorded it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sovra.compliance.register import IncidentRegister
from sovra.compliance.report import generate, present_rooms
from sovra.config import load_settings
from sovra.instance import Instance, open_instance
from sovra.ledger import note as notes
from sovra.ledger import witness

DAY = 86400.0
THREAT_ROOM = "sovra.threat" in present_rooms()

EXPECTED_FINDINGS = {
    "sov-pol-1/self-approved/policy:7",
    "sov-lbx-1/reviews/lockbox/bg-late",
    "sov-ai-1/approved-before/model/rogue",
    "sov-pat-1/activations",
    "sov-drl-1/drills",
    "sov-inc-1/{incident}/gdpr.authority",
}


@dataclass
class Seeded:
    instance: Instance
    witness: notes.Signer
    incident: str
    now: float
    report: dict[str, Any]
    path: Path

    @property
    def log_key(self) -> str:
        return self.instance.ledger.checkpoints.verifier.vkey

    @property
    def report_key(self) -> str:
        return str(self.report["signature"]["key"])


def seed(inst: Instance, now: float) -> tuple[notes.Signer, str]:
    led = inst.ledger
    inst.keys.init(threshold=2, shares=3, deliver=lambda shares: None)
    for i in range(3):
        led.append("alice", "policy.decision", f"Document::\"d{i}\"", "allowed",
                   {"action": "documents.read"})
    for i in range(2):
        led.append("mallory", "policy.decision", f"Document::\"s{i}\"", "denied",
                   {"action": "documents.read"})
    led.append("bob", "policy.activate", "policy:6", "success",
               {"sha256": "a" * 64, "proposed_by": "alice"})
    led.append("carol", "policy.activate", "policy:7", "success",
               {"sha256": "b" * 64, "proposed_by": "carol"})  # violation: self-approved
    for grant in ("bg-ok", "bg-late"):
        led.append("oncall", "lockbox.breakglass", f"lockbox/{grant}", "success",
                   {"review_due": now + DAY, "alert": True})
    for voter in ("ann", "ben"):
        led.append(voter, "lockbox.review", "lockbox/bg-ok", "success", {})
    led.append("dpo", "data.erase", "data/subject", "success", {"certificate_id": "c1"})
    led.append("ann", "models.approve", "model/good", "success",
               {"ceiling": "confidential", "sha256": "c" * 64})
    led.append("alice", "ai.chat", "model/good", "allowed", {"model": "good"})
    led.append("alice", "ai.chat", "model/rogue", "allowed", {"model": "rogue"})
    led.append("ops", "continuity.backup", "continuity/backup/b1", "success", {})
    if THREAT_ROOM:  # built in parallel: its pack is evidence only where it exists
        led.append("system", "threat.pack.load", "threat/pack/p1", "success", {})
    register = IncidentRegister(inst, clock=lambda: now)
    incident = register.open("ops", "customer database exposed", aware_at=now - 5 * DAY)
    register.classify("ops", incident.id, frozenset({"gdpr_breach"}))
    # A witness cosigns the tree head the report will be proven against.
    signer = notes.Signer.generate("witness.example/w1", notes.COSIGNATURE_V1)
    signed = led.sign_checkpoint()
    cosigned = witness.cosign(signer, led.checkpoints.verifier, None, signed, [],
                              now=int(now)).note
    led.add_cosignature(cosigned, signer.verifier.vkey)
    return signer, incident.id


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[Seeded]:
    settings = load_settings(data_dir=tmp_path / "data", checkpoint_interval_s=0.0)
    inst = open_instance(settings)
    try:
        now = time.time()
        signer, incident = seed(inst, now)
        made = generate(inst, since=now - DAY, until=now + 2 * DAY, actor="auditor",
                        clock=lambda: now + 2 * DAY)
        path = tmp_path / "report.json"
        path.write_text(json.dumps(made.document, indent=1))
        yield Seeded(inst, signer, incident, now, made.document, path)
    finally:
        inst.close()
