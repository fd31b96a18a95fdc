"""Check an export bundle on the receiving side, offline, without Sovra's server.

Pure apart from reading the one archive it is given. Against the export root the
receiver pinned (``sovra export root`` on the site, handed over out of band):

1. every newer root in the bundle is signed by a threshold of the previous root's keys
   and of its own (TUF §5.3.4);
2. timestamp, snapshot and targets are signed by the keys the root names, within their
   expiry, and each pins the next by length and SHA-256 (TUF §5.4-§5.6);
3. every file under ``targets/`` is listed in targets with its length and hash, and
   every listed file is present; nothing else is in the archive (no links, no paths
   that climb out, no duplicates).

Any failure raises ``BundleVerificationError`` naming the check.
"""

from __future__ import annotations

import json
import tarfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import Metadata, Root, Signed, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from sovra.analytics.export.bundle import EXPORT_DIR, MANIFEST
from sovra.errors import BundleVerificationError

MAX_BUNDLE_BYTES = 1 << 30
T = TypeVar("T", Root, Timestamp, Snapshot, Targets)


@dataclass(frozen=True)
class VerifiedExport:
    manifest: dict[str, Any]
    files: dict[str, bytes]  # target name -> bytes, hashes checked
    checks: tuple[str, ...]


def verify_export(archive: Path, pinned_root: bytes, now: datetime) -> VerifiedExport:
    members = _read_members(archive)
    checks: list[str] = []
    root = _walk_roots(members, _parse(pinned_root, Root, "pinned root"), checks)
    timestamp = _role(members, "timestamp", Timestamp, root, now)
    snapshot_bytes = _member(members, "metadata/snapshot.json")
    _pin(timestamp.signed.snapshot_meta.verify_length_and_hashes, snapshot_bytes, "snapshot")
    snapshot = _role(members, "snapshot", Snapshot, root, now)
    targets_bytes = _member(members, "metadata/targets.json")
    _pin(snapshot.signed.meta["targets.json"].verify_length_and_hashes, targets_bytes,
         "targets")
    targets = _role(members, "targets", Targets, root, now)
    checks.append("timestamp, snapshot, targets: signed by the export key, unexpired, "
                  "each pinned by the one before")
    files = _check_targets(members, targets.signed)
    checks.append(f"{len(files)} file(s): lengths and SHA-256 match targets.json")
    try:
        manifest = json.loads(files[MANIFEST])
    except (KeyError, ValueError) as exc:
        raise BundleVerificationError("the bundle has no readable manifest.json") from exc
    return VerifiedExport(manifest, files, tuple(checks))


def _read_members(archive: Path) -> dict[str, bytes]:
    members: dict[str, bytes] = {}
    total = 0
    try:
        with tarfile.open(archive, "r:") as tar:
            for info in tar:
                if not info.isfile() or info.name.startswith("/") or ".." in info.name:
                    raise BundleVerificationError(f"unsafe archive member {info.name!r}")
                if info.name in members:
                    raise BundleVerificationError(f"duplicate archive member {info.name!r}")
                total += info.size
                if total > MAX_BUNDLE_BYTES:
                    raise BundleVerificationError("the bundle is larger than 1 GiB")
                handle = tar.extractfile(info)
                members[info.name] = handle.read() if handle is not None else b""
    except (OSError, tarfile.TarError) as exc:
        raise BundleVerificationError(f"cannot read bundle {archive}: {exc}") from exc
    return members


def _walk_roots(members: dict[str, bytes], trusted: Metadata[Root], checks: list[str]
                ) -> Root:
    version = trusted.signed.version + 1
    while f"metadata/{version}.root.json" in members:
        new = _parse(members[f"metadata/{version}.root.json"], Root, f"root v{version}")
        try:
            trusted.signed.verify_delegate("root", new.signed_bytes, new.signatures)
            new.signed.verify_delegate("root", new.signed_bytes, new.signatures)
        except UnsignedMetadataError as exc:
            raise BundleVerificationError(f"root v{version} is not signed by a threshold of "
                                          f"the old and new root keys: {exc}") from exc
        trusted, version = new, version + 1
    first = members.get("metadata/1.root.json")
    if first is None:
        raise BundleVerificationError("the bundle carries no root")
    checks.append(f"root v{trusted.signed.version}: chained from the pinned root")
    return trusted.signed


def _role(members: dict[str, bytes], role: str, kind: type[T], root: Root, now: datetime
          ) -> Metadata[T]:
    md = _parse(_member(members, f"metadata/{role}.json"), kind, role)
    try:
        root.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as exc:
        raise BundleVerificationError(f"{role} is not signed by the export key the pinned "
                                      f"root names: {exc}") from exc
    signed: Signed = md.signed
    if signed.is_expired(now):
        raise BundleVerificationError(f"{role} expired on {signed.expires.isoformat()}")
    return md


def _check_targets(members: dict[str, bytes], targets: Targets) -> dict[str, bytes]:
    prefix = f"targets/{EXPORT_DIR}/"
    present = {name[len(prefix):]: data for name, data in members.items()
               if name.startswith(prefix)}
    others = [n for n in members if not n.startswith(("metadata/", prefix))]
    if others:
        raise BundleVerificationError(f"files outside the signed layout: {sorted(others)}")
    listed = {path[len(EXPORT_DIR) + 1:]: info for path, info in targets.targets.items()}
    if set(listed) != set(present):
        raise BundleVerificationError(
            f"files and targets.json disagree: missing {sorted(set(listed) - set(present))}, "
            f"unlisted {sorted(set(present) - set(listed))}")
    for name, info in listed.items():
        _pin(info.verify_length_and_hashes, present[name], name)
    return present


def _pin(check: Any, data: bytes, what: str) -> None:
    try:
        check(data)
    except LengthOrHashMismatchError as exc:
        raise BundleVerificationError(f"{what}: length or SHA-256 does not match: {exc}"
                                      ) from exc


def _member(members: dict[str, bytes], name: str) -> bytes:
    if name not in members:
        raise BundleVerificationError(f"the bundle lacks {name}")
    return members[name]


def _parse(data: bytes, kind: type[T], what: str) -> Metadata[T]:
    try:
        md = Metadata[T].from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise BundleVerificationError(f"{what} does not parse: {exc}") from exc
    if not isinstance(md.signed, kind):
        raise BundleVerificationError(f"{what}: expected {kind.type}, got {md.signed.type}")
    return md


__all__ = ["VerifiedExport", "verify_export"]
