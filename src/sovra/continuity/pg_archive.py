"""Continuous WAL archiving for the cluster profile: the settings, as values.

PostgreSQL archives itself (docs: "Continuous Archiving and Point-in-Time Recovery");
Sovra does not drive the database server, but the operator guide and the tests use
these exact settings, so what is documented is what is tested
(``tests/continuity/test_pg_archive.py``): the server copies every finished WAL segment
into an archive folder, at least every ``archive_timeout`` (the RPO bound), and a base
backup (``pg_basebackup``) plus the archive recovers the database as it was at any
moment after that base backup (``recovery_target_time``). ADR 0801.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path


def _quoted(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def archiving_settings(archive: Path, *, timeout_s: int = 60) -> dict[str, str]:
    """postgresql.conf settings of a server that archives every WAL segment to
    ``archive`` (never overwriting one already there), at least every ``timeout_s``."""
    command = f"test ! -f {archive}/%f && cp %p {archive}/%f"
    return {"wal_level": "replica", "archive_mode": "on",
            "archive_command": _quoted(command), "archive_timeout": f"{timeout_s}s"}


def recovery_settings(archive: Path, target: datetime) -> dict[str, str]:
    """Settings (beside an empty ``recovery.signal``) that replay a base backup from the
    archive up to ``target`` (exclusive of later commits), then open for writes."""
    stamp = target.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f+00")
    return {"restore_command": _quoted(f"cp {archive}/%f %p"),
            "recovery_target_time": _quoted(stamp),
            "recovery_target_inclusive": "off", "recovery_target_action": "'promote'"}


def conf_lines(settings: dict[str, str]) -> str:
    return "".join(f"{name} = {value}\n" for name, value in settings.items())
