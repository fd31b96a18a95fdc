"""The lockbox: no standing privileged access; every privileged action is requested,
approved by others, time-boxed and recorded (the Operation layer of sovereignty).

The pure vocabulary is exported here (importable without SQLAlchemy or FastAPI); the
service lives in ``sovra.lockbox.service`` and is built by ``sovra.instance``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.lockbox.catalogue import PRIVILEGED_ACTIONS, SCOPE_KINDS
from sovra.lockbox.values import AccessRequest, Limits, RequestSpec, Scope, State, Status

if TYPE_CHECKING:
    from sovra.lockbox.report import report_json
    from sovra.lockbox.service import LockboxService
    from sovra.lockbox.setup import open_lockbox
    from sovra.lockbox.status import DEV_MODE_LOCKBOX_WARNING
    from sovra.lockbox.watch import Watch

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "report_json": "sovra.lockbox.report",
    "LockboxService": "sovra.lockbox.service",
    "open_lockbox": "sovra.lockbox.setup",
    "DEV_MODE_LOCKBOX_WARNING": "sovra.lockbox.status",
    "Watch": "sovra.lockbox.watch",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "DEV_MODE_LOCKBOX_WARNING",
    "PRIVILEGED_ACTIONS",
    "SCOPE_KINDS",
    "AccessRequest",
    "Limits",
    "LockboxService",
    "RequestSpec",
    "Scope",
    "State",
    "Status",
    "Watch",
    "open_lockbox",
    "report_json",
]
