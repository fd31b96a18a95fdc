"""The readiness criteria: seven layers, each criterion with its kind, weight and remedy.

Weights follow Microsoft Purview Compliance Manager's scheme for improvement actions:
preventive and mandatory 27, preventive and discretionary 9, detective or corrective and
mandatory 3, detective or corrective and discretionary 1. Each criterion is also mapped
to one objective of the EU Cloud Sovereignty Framework (SOV-1..SOV-8); that mapping is
Sovra's reading of the framework, documented in docs/assessment.md. Pure data.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    PREVENTIVE = "preventive"
    DETECTIVE = "detective"
    CORRECTIVE = "corrective"


class Source(Enum):
    INSTANCE = "instance"  # a fact Sovra reads from itself
    QUESTIONNAIRE = "questionnaire"  # an answer for what Sovra cannot see


LAYERS: tuple[str, ...] = ("data", "operation", "access", "infrastructure", "compliance",
                           "ai", "continuity")

# EU Cloud Sovereignty Framework (European Commission, 2025): the eight objectives and
# their weights in the overall sovereignty score (percent).
OBJECTIVES: dict[str, tuple[str, int]] = {
    "SOV-1": ("Strategic sovereignty", 15),
    "SOV-2": ("Legal and jurisdictional sovereignty", 10),
    "SOV-3": ("Data and AI sovereignty", 10),
    "SOV-4": ("Operational sovereignty", 15),
    "SOV-5": ("Supply chain sovereignty", 20),
    "SOV-6": ("Technology sovereignty", 15),
    "SOV-7": ("Security and compliance sovereignty", 10),
    "SOV-8": ("Environmental sustainability", 5),
}

EFFORTS: tuple[str, ...] = ("low", "medium", "high")


def weight(kind: Kind, mandatory: bool) -> int:
    """Purview Compliance Manager's points for an action of this kind."""
    if kind is Kind.PREVENTIVE:
        return 27 if mandatory else 9
    return 3 if mandatory else 1


@dataclass(frozen=True)
class Criterion:
    id: str
    layer: str
    title: str
    kind: Kind
    mandatory: bool
    objective: str
    source: Source
    why: str
    remedy: str
    effort: str
    # Weakest link: while this criterion is unmet, the SEAL level cannot exceed this.
    caps_seal_at: int | None = None

    @property
    def weight(self) -> int:
        return weight(self.kind, self.mandatory)


P, D, C = Kind.PREVENTIVE, Kind.DETECTIVE, Kind.CORRECTIVE
INST, ASK = Source.INSTANCE, Source.QUESTIONNAIRE
MUST, MAY = True, False  # mandatory, discretionary

CRITERIA: tuple[Criterion, ...] = (
    # -- data ------------------------------------------------------------------------
    Criterion("data.custody", "data", "Root key held by M-of-N custodians or an HSM",
              P, MUST, "SOV-3", INST,
              "A root key in development mode sits in the data directory: whoever reads "
              "the disk decrypts everything, so the organisation holds no key of its own.",
              "Start from a fresh data directory with `sovra init --threshold 3 --shares 5` "
              "(custodian shares) or `sovra init --hsm`.", "medium", caps_seal_at=1),
    Criterion("data.hsm", "data", "Root key inside a hardware security module",
              P, MAY, "SOV-6", INST,
              "An HSM keeps the root key in certified hardware, out of the host's memory.",
              "Initialise with `sovra init --hsm` against a PKCS#11 token.", "high"),
    Criterion("data.records", "data",
              "Every collection classified, with retention and a GDPR Art. 30 record",
              P, MUST, "SOV-3", INST,
              "Data that is not classified and has no retention or record of processing "
              "cannot be governed, erased on time or shown to a supervisory authority.",
              "Create collections with owner, purpose, categories, retention and ceiling "
              "(`sovra data collection create`).", "low"),
    Criterion("data.erasure", "data", "No subject erasure failed", C, MUST, "SOV-3", INST,
              "A failed erasure leaves personal data the organisation promised to remove.",
              "Re-run the erasure (`sovra data erase`) and keep its certificate.", "low"),
    # -- operation -------------------------------------------------------------------
    Criterion("operation.lockbox", "operation",
              "Lockbox on: approvers are notified of every privileged access request",
              P, MUST, "SOV-4", INST,
              "Without a notification sink, nobody outside the operator learns that "
              "privileged access was requested or used.",
              "Set lockbox_webhook_url, lockbox_syslog or lockbox_smtp_relay in the "
              "settings.", "low"),
    Criterion("operation.review-quorum", "operation",
              "Break-glass access is reviewed by at least two people", D, MUST, "SOV-4", INST,
              "One reviewer can be the operator's accomplice; two are the four-eyes rule.",
              "Set lockbox_review_quorum to 2 or more.", "low"),
    Criterion("operation.breakglass-reviews", "operation",
              "Every break-glass grant was reviewed on time", D, MUST, "SOV-4", INST,
              "An emergency access nobody reviewed is an access nobody controls.",
              "Two approvers review each overdue grant (`sovra access review`).", "low"),
    Criterion("operation.patch-lag", "operation",
              "Updates applied within 90 days (signed bundles)", C, MUST, "SOV-6", INST,
              "A site that does not patch keeps known vulnerabilities open; a disconnected "
              "site patches only through bundles.",
              "Import and activate a current update bundle (`sovra bundle import`).",
              "medium"),
    Criterion("operation.staff-vetting", "operation",
              "Staff with privileged access are security-vetted", P, MUST, "SOV-4", ASK,
              "Privileged operators can reach every secret; vetting is the control on who "
              "they are.", "Vet privileged staff to the national clearance level and "
              "record it.", "high"),
    Criterion("operation.operator-location", "operation",
              "The platform is operated from the EU by EU-resident staff", P, MUST,
              "SOV-4", ASK, "Operators abroad can be compelled by foreign authorities.",
              "Move operation and support to EU-resident staff or a partner operator.",
              "high"),
    # -- access ----------------------------------------------------------------------
    Criterion("access.deny-default", "access",
              "Deny by default: no unconditional permit in the active policy", P, MUST,
              "SOV-7", INST,
              "An unconditional permit lets anyone do anything the rule names.",
              "Replace the permit with one that names roles or conditions and activate it "
              "through `sovra policy propose` and `approve`.", "low"),
    Criterion("access.policy-four-eyes", "access",
              "Every policy version approved by someone other than its proposer", P, MUST,
              "SOV-7", INST,
              "A rule approved by its own author had no second pair of eyes.",
              "Propose the policy again and have a second administrator approve it.", "low"),
    # -- infrastructure --------------------------------------------------------------
    Criterion("infrastructure.witness", "infrastructure",
              "The ledger's checkpoints are cosigned by an independent witness", D, MUST,
              "SOV-7", INST,
              "Without a witness, the operator could rewrite history and show each auditor "
              "a different log.", "Configure a witness and cosign checkpoints "
              "(`sovra ledger witness`).", "medium"),
    Criterion("infrastructure.ledger-integrity", "infrastructure",
              "The ledger passed its integrity check", D, MUST, "SOV-7", INST,
              "A ledger that fails its check proves nothing.",
              "Investigate with `sovra ledger verify`; restore from a verified backup.",
              "medium"),
    Criterion("infrastructure.physical-access", "infrastructure",
              "Physical access to the hardware is controlled and logged", P, MUST, "SOV-6",
              ASK, "Whoever touches the machine can take the disks or the keys.",
              "Put the hardware in a controlled room with badge access and logs.", "medium"),
    Criterion("infrastructure.hardware-supply", "infrastructure",
              "Hardware comes from suppliers of known origin, with firmware verified", P,
              MAY, "SOV-5", ASK,
              "Compromised hardware or firmware defeats every control above it.",
              "Buy from vetted suppliers and verify firmware at installation.", "high"),
    # -- compliance ------------------------------------------------------------------
    Criterion("compliance.threat-pack", "compliance",
              "Threat intelligence loaded in the last 30 days", D, MUST, "SOV-7", INST,
              "Detection rules age: an old pack misses current attacks.",
              "Import a current threat pack bundle.", "low"),
    Criterion("compliance.evidence-report", "compliance",
              "A signed compliance evidence report in the last 90 days", D, MUST, "SOV-7",
              INST, "Evidence nobody assembled is evidence nobody checked; the signed report "
              "is what an auditor verifies offline.",
              "Generate one with `sovra audit report` and check it with `sovra audit "
              "check`.", "low"),
    Criterion("compliance.egress", "compliance",
              "No attempt to reach the network outside the allowed paths", D, MUST,
              "SOV-2", INST,
              "An egress attempt is data trying to leave the jurisdiction.",
              "Investigate each attempt and block its path.", "medium"),
    Criterion("compliance.extraterritorial", "compliance",
              "No exposure of provider or operator to extraterritorial laws", P, MUST,
              "SOV-2", ASK,
              "A provider subject to a foreign law (US CLOUD Act, FISA 702) can be "
              "compelled to hand over data without the organisation knowing.",
              "Choose providers and operators under EU jurisdiction only.", "high",
              caps_seal_at=1),
    Criterion("compliance.supplier-contracts", "compliance",
              "Supplier contracts give audit rights, EU law and an exit", P, MUST,
              "SOV-1", ASK, "Without contractual rights the organisation cannot audit or "
              "leave its suppliers.", "Renegotiate contracts with audit, governing-law "
              "and exit clauses.", "medium"),
    Criterion("compliance.energy", "compliance",
              "Energy use and emissions of the platform are reported", D, MAY, "SOV-8",
              ASK, "The framework weighs environmental sustainability.",
              "Measure and publish the platform's energy use.", "low"),
    # -- ai --------------------------------------------------------------------------
    Criterion("ai.models-approved", "ai", "Every registered model is approved", P, MUST,
              "SOV-3", INST,
              "An unapproved model has no owner who accepted its risks and ceiling.",
              "An approver approves each model (POST /sovra/models/{id}/approve) or it is "
              "removed.", "low"),
    Criterion("ai.models-verified", "ai",
              "Every model's weights were verified by a signed bundle", P, MAY,
              "SOV-5", INST,
              "Weights of unknown origin may be tampered with or unlicensed.",
              "Deliver models only through signed bundles (`sovra bundle import`).",
              "medium"),
    Criterion("ai.local-inference", "ai", "Inference runs locally (no external model)",
              P, MUST, "SOV-3", INST,
              "An external model sends prompts and documents outside the organisation.",
              "Serve models in process or on premises.", "medium"),
    # -- continuity ------------------------------------------------------------------
    Criterion("continuity.backup", "continuity", "A backup was made in the last 7 days",
              C, MUST, "SOV-4", INST, "Without a recent backup, an incident loses data.",
              "Schedule `sovra backup create`.", "low"),
    Criterion("continuity.drill", "continuity",
              "A restore drill passed in the last 12 months", C, MUST, "SOV-4", INST,
              "A backup nobody restored is a hope; DORA Art. 11(6) asks for yearly tests.",
              "Run `sovra continuity drill`.", "low"),
    Criterion("continuity.exit-plan", "continuity",
              "A tested exit plan exists for every supplier", C, MAY, "SOV-1", ASK,
              "Reversibility is what makes a dependency a choice.",
              "Write and test an exit plan per supplier.", "medium"),
)

BY_ID: dict[str, Criterion] = {c.id: c for c in CRITERIA}

__all__ = ["BY_ID", "CRITERIA", "EFFORTS", "LAYERS", "OBJECTIVES", "Criterion", "Kind",
           "Source", "weight"]
