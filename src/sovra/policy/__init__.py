"""Policy: Cedar decisions over Sovra's schema, the default pack, versioned changes.

The exports load on first use, so the shared vocabulary (``sovra.policy.classification``,
``sovra.policy.actions``) imports without the Cedar engine or the database.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from sovra.policy.actions import ACTIONS, ROLES
    from sovra.policy.classification import Classification
    from sovra.policy.decision import Decision, Resource
    from sovra.policy.engine import CompiledPolicies, default_policy_text, principal_ref
    from sovra.policy.service import PolicyService
    from sovra.policy.testing import TestReport, run_cases, run_test_file
    from sovra.policy.versions import PolicyVersion
    from sovra.vocabulary import LedgerSink

_HOMES = {
    "ACTIONS": "sovra.policy.actions",
    "ROLES": "sovra.policy.actions",
    "Classification": "sovra.policy.classification",
    "Decision": "sovra.policy.decision",
    "Resource": "sovra.policy.decision",
    "CompiledPolicies": "sovra.policy.engine",
    "default_policy_text": "sovra.policy.engine",
    "principal_ref": "sovra.policy.engine",
    "PolicyService": "sovra.policy.service",
    "PolicyVersion": "sovra.policy.versions",
    "TestReport": "sovra.policy.testing",
    "run_cases": "sovra.policy.testing",
    "run_test_file": "sovra.policy.testing",
}


def open_policy(engine: Engine, ledger: LedgerSink) -> PolicyService:
    """The policy service over the instance's database (seeds the default pack once)."""
    # Imported here so that importing the room does not load Cedar or SQLAlchemy.
    from sovra.policy.service import PolicyService
    from sovra.policy.versions import VersionStore

    return PolicyService(VersionStore(engine), ledger)


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "ACTIONS",
    "ROLES",
    "Classification",
    "CompiledPolicies",
    "Decision",
    "PolicyService",
    "PolicyVersion",
    "Resource",
    "TestReport",
    "default_policy_text",
    "open_policy",
    "principal_ref",
    "run_cases",
    "run_test_file",
]
