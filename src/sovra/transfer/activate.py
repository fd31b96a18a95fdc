"""Move verified targets from staging to where they live, durably and all-or-nothing.

Files go to content-addressed places (``<data>/transfer/<kind>/<sha256>/<name>``;
wheels to ``<data>/wheels/<name>`` for the upgrade command), each fsynced before its
rename and each directory fsynced after. The database transaction that follows is the
moment of activation: if it fails, ``undo`` removes what was moved, so a file no row
points to never stays behind.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from sovra.errors import ConflictError
from sovra.transfer.layout import KIND_DIRS, TARGETS_DIR
from sovra.transfer.results import TargetRecord
from sovra.transfer.verify import VerifiedTarget

# What each kind becomes once activated (issue 6: a model appears in the registry, a
# policy pack awaits approval, a wheel is kept for the upgrade command).
STATES: Mapping[str, str] = {"model": "registered", "policy": "awaiting_approval",
                             "threat-intel": "stored", "wheel": "kept", "sbom": "stored",
                             # Threat packs: sovra.threat loads the newest of each.
                             **dict.fromkeys(("sigma", "stix", "misp", "yara"), "stored")}


@dataclass(frozen=True)
class Placement:
    record: TargetRecord
    moved: bool


def destination(data_dir: Path, target: VerifiedTarget) -> Path:
    name = target.path.rsplit("/", 1)[-1]
    if target.kind == "wheel":
        return data_dir / "wheels" / name
    return data_dir / "transfer" / KIND_DIRS[target.kind] / target.sha256 / name


def place_targets(staging: Path, data_dir: Path,
                  targets: Mapping[str, VerifiedTarget]) -> list[Placement]:
    """Move every staged target into place; on error, undo what was moved and re-raise."""
    placed: list[Placement] = []
    try:
        for target in targets.values():
            # A loop, not a comprehension: undo needs the partial list on failure.
            placed.append(_place(  # noqa: PERF401
                staging / TARGETS_DIR / target.path, destination(data_dir, target), target))
    except BaseException:
        undo(placed)
        raise
    return placed


def undo(placed: list[Placement]) -> None:
    for item in placed:
        if item.moved:
            item.record.stored_path.unlink(missing_ok=True)


def _place(source: Path, dest: Path, target: VerifiedTarget) -> Placement:
    record = TargetRecord(target.path, target.kind, target.component, target.version,
                          target.sha256, target.length, dest, STATES[target.kind],
                          target.custom)
    if dest.exists():
        # Content-addressed: the same file is already active. A wheel of the same name
        # with other content is a conflict, never a silent replacement.
        if _sha256(dest) != target.sha256:
            raise ConflictError(f"{dest} exists with different content; not replacing it")
        return Placement(record, moved=False)
    dest.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(source, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    source.replace(dest)
    _fsync_dir(dest.parent)
    return Placement(record, moved=True)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
