"""The lockbox: no standing privileged access; every privileged action is requested,
approved by others, time-boxed and recorded (the Operation layer of sovereignty).

The pure vocabulary is exported here (importable without SQLAlchemy or FastAPI); the
service lives in ``sovra.lockbox.service`` and is built by ``sovra.instance``.
"""

from __future__ import annotations

from sovra.lockbox.catalogue import PRIVILEGED_ACTIONS, SCOPE_KINDS
from sovra.lockbox.values import AccessRequest, Limits, RequestSpec, Scope, State, Status

__all__ = ["PRIVILEGED_ACTIONS", "SCOPE_KINDS", "AccessRequest", "Limits", "RequestSpec",
           "Scope", "State", "Status"]
