"""Continuity: encrypted backups, verified restores, rollback detection, restore drills.

``backup`` makes and checks backups (``sovra backup create|list|verify|prune``),
``restore`` restores one onto an empty data directory and compares the restored log with a
checkpoint known outside the backup, ``hold`` lets an approver accept a detected
rollback, ``drill`` proves a restore end to end and measures RTO and RPO. The pure parts
(``manifest``, ``crypto``, ``retention``) take values and bytes. docs/continuity.md is the
operator guide.
"""

from __future__ import annotations

from sovra.continuity.backup import BackupInfo, Listed, Verification, backup_root, list_backups
from sovra.continuity.backup import create as create_backup
from sovra.continuity.backup import prune as prune_backups
from sovra.continuity.backup import verify as verify_backup
from sovra.continuity.drill import Check, ContinuityStatus, DrillReport, run_drill, status
from sovra.continuity.hold import Acceptance, accept_rollback
from sovra.continuity.restore import RestoreResult, RollbackVerdict, check_rollback, restore
from sovra.continuity.retention import RetentionPlan
from sovra.continuity.state import refuse_if_held

__all__ = [
    "Acceptance",
    "BackupInfo",
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
    "restore",
    "run_drill",
    "status",
    "verify_backup",
]
