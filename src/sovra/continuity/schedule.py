"""Backups on a schedule while ``sovra up`` runs (``SOVRA_BACKUP_INTERVAL_S``, 0 = off).

Each run is what ``sovra backup create`` then ``sovra backup prune`` do, as the actor
``system:schedule``: every backup and every pruning is a ledger entry. A run that cannot
happen (the instance is sealed, the destination is full) is recorded as a failure and
logged, and the next run is tried at the next interval: a missed backup is visible to
an auditor, never silent.

When ``SOVRA_ARCHIVE_DIR`` is set, the same object runs Litestream beside the server
for continuous archiving (``archive``, ADR 0801) and stops it on shutdown.
"""

from __future__ import annotations

import logging
import threading

from sovra.continuity.archive import Archiver
from sovra.continuity.backup import BackupInfo, create, prune
from sovra.errors import LedgerUnavailableError, SovraError
from sovra.instance import Instance

log = logging.getLogger("sovra.continuity")
ACTOR = "system:schedule"


class BackupSchedule:
    """One daemon thread; ``stop`` waits for a backup in progress to finish."""

    def __init__(self, instance: Instance, interval_s: float) -> None:
        self._instance = instance
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._archiver: Archiver | None = None

    @classmethod
    def start(cls, instance: Instance) -> BackupSchedule:
        schedule = cls(instance, instance.settings.backup_interval_s)
        if instance.settings.archive_dir is not None:
            schedule._archiver = Archiver.start(instance, actor=ACTOR)
        if schedule._interval_s > 0:
            schedule._thread = threading.Thread(target=schedule._loop, daemon=True,
                                                name="sovra-backup-schedule")
            schedule._thread.start()
        return schedule

    def _loop(self) -> None:
        while not self._stop.wait(self._interval_s):
            self.run_once()

    def run_once(self) -> BackupInfo | None:
        instance = self._instance
        try:
            made = create(instance, actor=ACTOR)
            prune(instance, actor=ACTOR)
        except SovraError as exc:
            log.warning("scheduled backup failed: %s", exc)
            self._record_missed(exc)
            return None
        log.info("scheduled backup %s: %d files, ledger size %d", made.backup_id,
                 made.files, made.ledger.size)
        return made

    def _record_missed(self, exc: SovraError) -> None:
        # create() records its own failures once it has started; a refusal before that
        # (sealed) would otherwise leave no trace.
        try:
            self._instance.ledger.append(ACTOR, "continuity.backup.missed", "continuity/schedule",
                                         "failure", {"error": f"{type(exc).__name__}: {exc}"})
        except LedgerUnavailableError:
            log.exception("scheduled backup failed and the ledger could not record it")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._archiver is not None:
            self._archiver.stop(self._instance, actor=ACTOR)
