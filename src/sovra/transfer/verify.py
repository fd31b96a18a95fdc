"""Verify a bundle's TUF metadata against the site's trust state. Pure: bytes in, values out.

Follows the TUF client workflow (specification v1.0, §5.3-§5.6) with two differences
that suit an air gap: the clock is injected and may be extended by a configured grace
for slow transfers (the grace needed is reported so it can be recorded), and a
timestamp whose version is not strictly newer than the last one applied is refused
(a bundle is applied once; replaying it is a rollback attempt).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from tuf.api.exceptions import LengthOrHashMismatchError, UnsignedMetadataError
from tuf.api.metadata import Metadata, MetaFile, Root, Signed, Snapshot, Targets, Timestamp
from tuf.api.serialization import DeserializationError

from sovra.errors import BundleVerificationError
from sovra.transfer.layout import KIND_DIRS, MODEL_MANIFEST_FIELDS, is_valid_target_path

T = TypeVar("T", Root, Timestamp, Snapshot, Targets)


@dataclass(frozen=True)
class TrustState:
    """What the site trusts now: the pinned root and the highest versions applied."""

    root: bytes
    versions: Mapping[str, int] = field(default_factory=dict)

    def version(self, role: str) -> int:
        return self.versions.get(role, 0)


@dataclass(frozen=True)
class BundleMetadata:
    """The metadata members of one bundle, as bytes."""

    roots: Mapping[int, bytes]
    timestamp: bytes
    snapshot: bytes
    targets: bytes


@dataclass(frozen=True)
class VerifiedTarget:
    path: str
    length: int
    sha256: str
    kind: str
    component: str
    version: str
    custom: Mapping[str, Any]


@dataclass(frozen=True)
class VerifiedMetadata:
    """Everything the verifier established, with the hashes the ledger records."""

    root: bytes
    root_version: int
    new_roots: tuple[bytes, ...]
    versions: Mapping[str, int]
    sha256: Mapping[str, str]
    targets: Mapping[str, VerifiedTarget]
    grace_allowed_s: float
    grace_needed_s: float
    # Roles whose trusted versions a key rotation reset (TUF §5.3.11).
    reset_roles: tuple[str, ...]
    checks: tuple[str, ...]
    built_at: datetime | None


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def verify_metadata(bundle: BundleMetadata, trust: TrustState, now: datetime,
                    grace: timedelta) -> VerifiedMetadata:
    """Verify every role; raises BundleVerificationError naming the failed check."""
    checks: list[str] = []
    root_bytes, new_roots, reset = _update_root(bundle.roots, trust.root, checks)
    root = _parse(root_bytes, Root)
    needed = [_check_expiry("root", root.signed, now, grace)]  # §5.3.10
    versions = dict(trust.versions)
    for role in reset:
        versions[role] = 0
    timestamp = _verify_timestamp(bundle.timestamp, root.signed, versions, checks)
    needed.append(_check_expiry("timestamp", timestamp, now, grace))  # §5.4.4
    snapshot = _verify_snapshot(bundle.snapshot, root.signed, timestamp.snapshot_meta,
                                versions, checks)
    needed.append(_check_expiry("snapshot", snapshot, now, grace))  # §5.5.6
    targets = _verify_targets(bundle.targets, root.signed, snapshot, checks)
    needed.append(_check_expiry("targets", targets, now, grace))  # §5.6.4
    checks.append(f"expiry: every role valid at {now.isoformat()} "
                  f"(grace allowed {grace.total_seconds():.0f}s, needed {max(needed):.0f}s)")
    verified = _verified_targets(targets)
    return VerifiedMetadata(
        root=root_bytes, root_version=root.signed.version, new_roots=new_roots,
        versions={"root": root.signed.version, "timestamp": timestamp.version,
                  "snapshot": snapshot.version, "targets": targets.version},
        sha256={"root": sha256_hex(root_bytes), "timestamp": sha256_hex(bundle.timestamp),
                "snapshot": sha256_hex(bundle.snapshot), "targets": sha256_hex(bundle.targets)},
        targets=verified, grace_allowed_s=grace.total_seconds(), grace_needed_s=max(needed),
        reset_roles=reset, checks=tuple(checks), built_at=_built_at(verified))


def verify_root_self_signed(data: bytes) -> Metadata[Root]:
    """A root offered for pinning must meet its own threshold (TUF §5.2 trusted root)."""
    root = _parse(data, Root)
    result = root.signed.get_root_verification_result(None, root.signed_bytes, root.signatures)
    if not result.verified:
        raise BundleVerificationError(
            f"threshold not met: root v{root.signed.version} carries "
            f"{len(result.first.signed)}/{result.first.threshold} valid signatures")
    return root


def _update_root(roots: Mapping[int, bytes], trusted_bytes: bytes,
                 checks: list[str]) -> tuple[bytes, tuple[bytes, ...], tuple[str, ...]]:
    trusted = _parse(trusted_bytes, Root)
    start = trusted.signed.version
    same = roots.get(start)
    if same is not None and sha256_hex(same) != sha256_hex(trusted_bytes):
        raise BundleVerificationError(
            f"tampered root: the bundle's root v{start} differs from the pinned root v{start}")
    newer = sorted(v for v in roots if v > start)
    if newer != list(range(start + 1, start + 1 + len(newer))):
        raise BundleVerificationError(
            f"root chain has gaps after pinned v{start}: bundle carries versions {newer}")
    current, current_bytes, chain = trusted, trusted_bytes, []
    for version in newer:
        data = roots[version]
        candidate = _parse(data, Root)
        if candidate.signed.version != version:
            raise BundleVerificationError(
                f"tampered root: {version}.root.json claims version {candidate.signed.version}")
        # §5.3.4: signed by a threshold of the trusted root's keys AND of its own keys.
        result = candidate.signed.get_root_verification_result(
            current.signed, candidate.signed_bytes, candidate.signatures)
        if not result.verified:
            raise BundleVerificationError(
                f"threshold not met for root v{version}: {len(result.first.signed)}/"
                f"{result.first.threshold} of the previous root's keys and "
                f"{len(result.second.signed)}/{result.second.threshold} of its own "
                f"(tampered root or unknown keys){_unknown(candidate, current.signed)}")
        current, current_bytes = candidate, data
        chain.append(data)
    reset = _rotated_roles(trusted.signed, current.signed)
    checks.append(f"root: pinned v{start} -> v{current.signed.version}, each step signed "
                  "by old and new thresholds (TUF §5.3.4)")
    return current_bytes, tuple(chain), reset


def _rotated_roles(old: Root, new: Root) -> tuple[str, ...]:
    # §5.3.11: if the timestamp or snapshot keys changed, forget the trusted timestamp and
    # snapshot so a fast-forward attack by the old keys can be recovered from.
    changed = any(set(old.roles[r].keyids) != set(new.roles[r].keyids)
                  for r in ("timestamp", "snapshot"))
    return ("timestamp", "snapshot") if changed else ()


def _verify_timestamp(data: bytes, root: Root, versions: Mapping[str, int],
                      checks: list[str]) -> Timestamp:
    md = _parse(data, Timestamp)
    _check_signatures(root, "timestamp", md)
    last = versions.get("timestamp", 0)
    if md.signed.version <= last:  # §5.4.3.1, strict: a bundle is applied once
        raise BundleVerificationError(
            f"rollback: timestamp v{md.signed.version} is not newer than v{last} "
            "already applied")
    snapshot_version = md.signed.snapshot_meta.version
    if snapshot_version < versions.get("snapshot", 0):  # §5.4.3.2
        raise BundleVerificationError(
            f"rollback: timestamp names snapshot v{snapshot_version}, older than "
            f"v{versions['snapshot']} already applied")
    checks.append(f"timestamp v{md.signed.version}: threshold met, newer than v{last}")
    return md.signed


def _verify_snapshot(data: bytes, root: Root, meta: MetaFile, versions: Mapping[str, int],
                     checks: list[str]) -> Snapshot:
    _check_meta("snapshot.json", meta, data)  # §5.5.2
    md = _parse(data, Snapshot)
    _check_signatures(root, "snapshot", md)  # §5.5.3
    if md.signed.version != meta.version:  # §5.5.4
        raise BundleVerificationError(
            f"mix-and-match: snapshot is v{md.signed.version}, timestamp names "
            f"v{meta.version}")
    if set(md.signed.meta) != {"targets.json"}:
        raise BundleVerificationError(
            "snapshot lists delegated targets metadata; bundles carry top-level targets only")
    listed = md.signed.meta["targets.json"].version
    if listed < versions.get("targets", 0):  # §5.5.5
        raise BundleVerificationError(
            f"rollback: snapshot names targets v{listed}, older than "
            f"v{versions['targets']} already applied")
    checks.append(f"snapshot v{md.signed.version}: threshold met, matches timestamp")
    return md.signed


def _verify_targets(data: bytes, root: Root, snapshot: Snapshot,
                    checks: list[str]) -> Targets:
    meta = snapshot.meta["targets.json"]
    _check_meta("targets.json", meta, data)  # §5.6.2
    md = _parse(data, Targets)
    _check_signatures(root, "targets", md)  # §5.6.3
    if md.signed.version != meta.version:
        raise BundleVerificationError(
            f"mix-and-match: targets is v{md.signed.version}, snapshot names v{meta.version}")
    if md.signed.delegations is not None:
        raise BundleVerificationError("targets delegates roles; bundles do not support that")
    checks.append(f"targets v{md.signed.version}: threshold met, matches snapshot, "
                  f"{len(md.signed.targets)} target(s)")
    return md.signed


def _check_meta(name: str, meta: MetaFile, data: bytes) -> None:
    if meta.length is None or "sha256" not in (meta.hashes or {}):
        raise BundleVerificationError(f"{name} is not pinned by length and sha256")
    try:
        meta.verify_length_and_hashes(data)
    except LengthOrHashMismatchError as exc:
        raise BundleVerificationError(
            f"mix-and-match: {name} does not match the length/hash its parent role "
            f"signed: {exc}") from exc


def _check_signatures(root: Root, role: str, md: Metadata[Any]) -> None:
    try:
        root.verify_delegate(role, md.signed_bytes, md.signatures)
    except UnsignedMetadataError as exc:
        raise BundleVerificationError(
            f"threshold not met for {role}: {exc}{_unknown(md, root)}") from exc


def _unknown(md: Metadata[Any], root: Root) -> str:
    role = md.signed.type
    unknown = sorted(k for k in md.signatures if k not in root.roles[role].keyids)
    return f"; signatures by unknown key(s) {', '.join(k[:12] for k in unknown)}" if unknown else ""


def _check_expiry(role: str, signed: Signed, now: datetime, grace: timedelta) -> float:
    """Seconds of grace this role needed; raises when even the grace is not enough."""
    if signed.expires + grace <= now:
        raise BundleVerificationError(
            f"freeze: {role} expired {signed.expires.isoformat()}, beyond the "
            f"{grace.total_seconds():.0f}s grace at {now.isoformat()}")
    return max(0.0, (now - signed.expires).total_seconds())


def _parse(data: bytes, kind: type[T]) -> Metadata[T]:
    try:
        md = Metadata[T].from_bytes(data)
    except (DeserializationError, ValueError, KeyError, TypeError) as exc:
        raise BundleVerificationError(f"{kind.type} metadata does not parse: {exc}") from exc
    if not isinstance(md.signed, kind):
        raise BundleVerificationError(f"expected {kind.type} metadata, got {md.signed.type}")
    return md


def _verified_targets(targets: Targets) -> dict[str, VerifiedTarget]:
    found: dict[str, VerifiedTarget] = {}
    for path, info in targets.targets.items():
        custom = info.custom if isinstance(info.custom, dict) else {}
        kind = custom.get("kind")
        digest = info.hashes.get("sha256")
        if not isinstance(kind, str) or kind not in KIND_DIRS or not digest:
            raise BundleVerificationError(f"target {path} lacks a kind or a sha256")
        if not is_valid_target_path(path, kind):
            raise BundleVerificationError(f"target path {path!r} is unsafe for kind {kind}")
        manifest = custom.get("manifest")
        if kind == "model" and not (isinstance(manifest, dict) and all(
                isinstance(manifest.get(f), str) and manifest[f]
                for f in MODEL_MANIFEST_FIELDS)):
            raise BundleVerificationError(
                f"model {path} lacks a manifest with {', '.join(MODEL_MANIFEST_FIELDS)}")
        found[path] = VerifiedTarget(
            path, info.length, digest, kind, str(custom.get("component", "")),
            str(custom.get("version", "")), custom)
    return found


def _built_at(targets: Mapping[str, VerifiedTarget]) -> datetime | None:
    stamps = []
    for target in targets.values():
        value = target.custom.get("built_at")
        if isinstance(value, str):
            try:
                stamps.append(datetime.fromisoformat(value))
            except ValueError:
                continue
    return max(stamps) if stamps else None
