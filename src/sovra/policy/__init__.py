"""Policy: Cedar decisions over Sovra's schema, the default pack, versioned changes."""

from __future__ import annotations

from sqlalchemy import Engine

from sovra.identity.sink import LedgerSink
from sovra.policy.actions import ACTIONS, ROLES
from sovra.policy.classification import Classification
from sovra.policy.decision import Decision, Resource
from sovra.policy.engine import CompiledPolicies, default_policy_text, principal_ref
from sovra.policy.service import PolicyService
from sovra.policy.versions import PolicyVersion, VersionStore


def open_policy(engine: Engine, ledger: LedgerSink) -> PolicyService:
    """The policy service over the instance's database (seeds the default pack once)."""
    return PolicyService(VersionStore(engine), ledger)


__all__ = ["ACTIONS", "ROLES", "Classification", "CompiledPolicies", "Decision",
           "PolicyService", "PolicyVersion", "Resource", "default_policy_text", "open_policy",
           "principal_ref"]
