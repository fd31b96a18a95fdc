"""Continuity: encrypted backups, verified restores, rollback detection, restore drills.

``backup`` makes and checks backups (``sovra backup create|list|verify|prune``),
``restore`` restores one onto an empty data directory and compares the restored log with a
checkpoint known outside the backup, ``hold`` lets an approver accept a detected
rollback, ``drill`` proves a restore end to end and measures RTO and RPO. The pure parts
(``manifest``, ``crypto``, ``retention``) take values and bytes. docs/continuity.md is the
operator guide.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export
from sovra.continuity.backup import BackupInfo, Listed, Verification, backup_root, list_backups
from sovra.continuity.backup import create as create_backup
from sovra.continuity.backup import prune as prune_backups
from sovra.continuity.backup import verify as verify_backup
from sovra.continuity.drill import Check, ContinuityStatus, DrillReport, run_drill, status
from sovra.continuity.hold import Acceptance, accept_rollback
from sovra.continuity.restore import RestoreResult, RollbackVerdict, check_rollback, restore
from sovra.continuity.retention import RetentionPlan
from sovra.continuity.state import refuse_if_held

if TYPE_CHECKING:
    from sovra.continuity.schedule import BackupSchedule
    from sovra.continuity.state import refuse_if_unwritable

# Loaded on first use (sovra._lazy): these bring the room's services, which a caller
# importing the room for the names above should not pay for.
_HOMES = {
    "BackupSchedule": "sovra.continuity.schedule",
    "refuse_if_unwritable": "sovra.continuity.state",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "Acceptance",
    "BackupInfo",
    "BackupSchedule",
    "Check",
    "ContinuityStatus",
    "DrillReport",
    "Listed",
    "RestoreResult",
    "RetentionPlan",
    "RollbackVerdict",
    "Verification",
    "accept_rollback",
    "backup_root",
    "check_rollback",
    "create_backup",
    "list_backups",
    "prune_backups",
    "refuse_if_held",
    "refuse_if_unwritable",
    "restore",
    "run_drill",
    "status",
    "verify_backup",
]
