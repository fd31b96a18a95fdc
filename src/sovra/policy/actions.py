"""The actions Sovra authorizes and the resource types each applies to.

This table mirrors ``schema.cedarschema`` (a test checks that they agree) so the
engine can refuse an unknown action or a wrong resource type before asking Cedar,
without paying for request validation against the schema on every decision.
"""

from __future__ import annotations

from types import MappingProxyType

ACTIONS: MappingProxyType[str, frozenset[str]] = MappingProxyType({
    "ledger.read": frozenset({"Ledger"}),
    "ledger.witness": frozenset({"Ledger"}),
    "keys.status": frozenset({"Keys"}),
    "keys.seal": frozenset({"Keys"}),
    "keys.rotate": frozenset({"Keys"}),
    "keys.erase": frozenset({"Keys", "Collection"}),
    "principals.manage": frozenset({"Principal"}),
    "principals.approve": frozenset({"Principal"}),
    "policy.propose": frozenset({"Policy"}),
    "policy.approve": frozenset({"Policy"}),
    "policy.read": frozenset({"Policy"}),
    "collections.create": frozenset({"Collection"}),
    "collections.read": frozenset({"Collection"}),
    "collections.ingest": frozenset({"Collection"}),
    "collections.erase": frozenset({"Collection", "Document"}),
    "collections.hold": frozenset({"Collection"}),
    "collections.set_ai_policy": frozenset({"Collection"}),
    "documents.read": frozenset({"Document", "Collection"}),
    "models.use": frozenset({"Model"}),
    "models.register": frozenset({"Model"}),
    "models.approve": frozenset({"Model"}),
    # A fallback model when another's upstream is down (sovra.ai.fallback): the default
    # pack permits none, so an operator's policy names it.
    "models.fallback": frozenset({"Model"}),
    "bundles.import": frozenset({"Bundle"}),
    "bundles.approve": frozenset({"Bundle"}),
    "bundles.read": frozenset({"Bundle"}),
    "ai.trace": frozenset({"Trace"}),
    # Continuity (sovra.continuity, 70-continuity.cedar): backups (and drills), restores
    # (decided by the restored instance's own policy), the status, and an approver's
    # acceptance of a restore that rolled the log back.
    **dict.fromkeys(("continuity.backup", "continuity.restore", "continuity.status",
                     "continuity.rollback.accept"), frozenset({"Continuity"})),
    "assessment.run": frozenset({"Assessment"}),
    "placement.advise": frozenset({"Assessment"}),
    # Compliance evidence and incidents (sovra.compliance, 95-compliance.cedar).
    **dict.fromkeys(("compliance.report", "compliance.read", "compliance.incident"),
                    frozenset({"Compliance"})),
    # Governed SQL (sovra.analytics, 85-analytics.cedar): tables per collection, columns.
    "analytics.query": frozenset({"Collection"}),
    "analytics.column": frozenset({"Column"}),
    # The outbound diode (sovra.analytics.export, 85-analytics.cedar).
    **dict.fromkeys(("export.create", "export.read", "export.review", "export.approve",
                     "export.release"), frozenset({"Export"})),
    # The lockbox (sovra.lockbox, 60-lockbox.cedar): access requests and their grants.
    **dict.fromkeys(("lockbox.request", "lockbox.read", "lockbox.approve", "lockbox.deny",
                     "lockbox.revoke", "lockbox.breakglass", "lockbox.review",
                     "lockbox.activate", "lockbox.watch"), frozenset({"AccessRequest"})),
    # Threat detection (sovra.threat, 90-threat.cedar): alerts, hunts, pack status.
    **dict.fromkeys(("threat.read", "threat.triage", "threat.hunt"), frozenset({"Threat"})),
})

RESOURCE_TYPES: frozenset[str] = frozenset().union(*ACTIONS.values())

ROLES: frozenset[str] = frozenset(
    {"admin", "approver", "auditor", "analyst", "breakglass", "operator", "service"})

__all__ = ["ACTIONS", "RESOURCE_TYPES", "ROLES"]
