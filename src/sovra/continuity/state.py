"""The room's files inside a data directory: last backup and drill, drill reports, the hold.

Everything here is also in the ledger; these files let ``sovra continuity status`` and
``sovra up`` answer without scanning the log. Written durably (write, fsync, rename,
fsync the directory) so a crash leaves the old file or the new one, never half of one.
"""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from sovra.errors import ConfigError, RollbackHoldError, StorageError

ROOM_DIR = "continuity"
STATE_FILE = "state.json"
HOLD_FILE = "hold.json"
REPORTS_DIR = "drills"
TMP_DIR = "tmp"


def room_dir(data_dir: Path) -> Path:
    return data_dir / ROOM_DIR


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_json(path: Path, doc: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    try:
        with tmp.open("x", encoding="utf-8") as handle:
            json.dump(doc, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        tmp.replace(path)
        fsync_dir(path.parent)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise StorageError(f"cannot write {path}: {exc}") from exc


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} cannot be read ({exc}); restore it from the ledger's "
                          "continuity entries or remove it") from exc
    if not isinstance(doc, dict):
        raise ConfigError(f"{path} does not hold a JSON object")
    return doc


def load_state(data_dir: Path) -> dict[str, Any]:
    return read_json(room_dir(data_dir) / STATE_FILE) or {}


def update_state(data_dir: Path, **fields: Any) -> None:
    state = load_state(data_dir)
    state.update(fields)
    write_json(room_dir(data_dir) / STATE_FILE, state)


def hold_path(data_dir: Path) -> Path:
    return room_dir(data_dir) / HOLD_FILE


def read_hold(data_dir: Path) -> dict[str, Any] | None:
    return read_json(hold_path(data_dir))


def refuse_if_held(data_dir: Path) -> None:
    """Called before serving: a restored instance with an unaccepted rollback refuses."""
    hold = read_hold(data_dir)
    if hold is None:
        return
    raise RollbackHoldError(
        f"this instance was restored from backup {hold.get('backup_id')} and {hold.get('reason')}"
        f". It refuses to serve until an approver accepts the rollback: `sovra continuity "
        "accept-rollback --api-key <approver key> --reason '...'` (recorded in the ledger)")


def refuse_if_unwritable(data_dir: Path) -> None:
    """Called before serving: a data directory that cannot be written is refused at start.

    Sovra records every request in its ledger before answering, so on a read-only file
    system it could serve nothing (fail closed, DESIGN "no record, no access"); without
    this check the first thing to notice was a migration failing with SQLite's "unable
    to open database file", which names neither the cause nor the fix.
    """
    if not data_dir.exists():
        return  # a first start creates it; a parent that cannot be written fails there
    read_only = bool(os.statvfs(data_dir).f_flag & os.ST_RDONLY)
    if not read_only:
        probe = data_dir / f".write-probe-{secrets.token_hex(4)}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError:
            read_only = True
    if read_only:
        raise StorageError(
            f"the data directory {data_dir} is on a read-only file system (or cannot be "
            "written): Sovra records every request in its ledger there before answering, "
            "so it refuses to start rather than serve unrecorded. Remount it read-write (or "
            "point SOVRA_DATA_DIR at a writable copy) and start again; a backup of it can "
            "still be verified (`sovra backup verify`) and its ledger exported")
