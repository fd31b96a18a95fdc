"""The Cedar schema, the action table and the cross-room action names agree."""

from __future__ import annotations

import re

from sovra.policy import ACTIONS
from sovra.policy.engine import load_schema, schema_text

# The actions every room codes against (working agreement, identity/policy contract).
CONTRACT_ACTIONS = {
    "ledger.read", "ledger.witness", "keys.status", "keys.seal", "keys.rotate", "keys.erase",
    "principals.manage", "policy.propose", "policy.approve", "policy.read",
    "collections.create", "collections.read", "collections.ingest", "collections.erase",
    "collections.hold", "documents.read", "models.use", "models.register", "models.approve",
    "models.fallback",
    "bundles.import", "bundles.approve", "bundles.read", "ai.trace",
    # issue 13: second-person identity changes, a collection's AI text policy
    "principals.approve", "collections.set_ai_policy",
    # readiness assessment and workload placement (sovra.assessment)
    "placement.advise", "assessment.run",
    # the lockbox (sovra.lockbox)
    "lockbox.request", "lockbox.read", "lockbox.approve", "lockbox.deny", "lockbox.revoke",
    "lockbox.breakglass", "lockbox.review", "lockbox.activate", "lockbox.watch",
    # backups, restores and drills (sovra.continuity)
    "continuity.backup", "continuity.restore", "continuity.status",
    "continuity.rollback.accept",
    # compliance evidence and the incident register (sovra.compliance)
    "compliance.report", "compliance.read", "compliance.incident",
    # governed SQL and the outbound diode (sovra.analytics)
    "analytics.query", "analytics.column", "export.create", "export.read", "export.review",
    "export.approve", "export.release",
    # threat detection: alerts, hunts, pack status (sovra.threat)
    "threat.read", "threat.triage", "threat.hunt",
}


def _schema_actions() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    pattern = re.compile(r'action\s+((?:"[^"]+"\s*,?\s*)+)\s*appliesTo\s*\{\s*principal:'
                         r'\s*\[[^\]]*\],\s*resource:\s*\[([^\]]*)\]', re.S)
    for names, resources in pattern.findall(schema_text()):
        kinds = {k.strip() for k in resources.split(",") if k.strip()}
        for name in re.findall(r'"([^"]+)"', names):
            found[name] = kinds
    return found


def test_schema_parses() -> None:
    assert "Principal" in str(load_schema())


def test_every_contract_action_is_declared_in_the_schema_and_the_table() -> None:
    assert set(ACTIONS) == CONTRACT_ACTIONS
    assert set(_schema_actions()) == CONTRACT_ACTIONS


def test_the_action_table_matches_the_schema_resource_types() -> None:
    declared = _schema_actions()
    for action, kinds in ACTIONS.items():
        assert declared[action] == set(kinds), action
