"""The connected side's signing repository: root history and the last role versions.

A repository is a directory the release officers keep next to their offline keys::

    roots/1.root.json ... roots/N.root.json   every root version ever signed
    versions.json                              last timestamp/snapshot/targets versions

Every bundle carries all root versions so a site that pinned any older root can walk the
chain forward (TUF §5.3.3-§5.3.5); ``versions.json`` makes each bundle's role versions
strictly larger than the last bundle's, which is what the sites' rollback check needs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Key, Signer
from tuf.api.exceptions import UnsignedMetadataError
from tuf.api.metadata import Metadata, Role, Root

from sovra.errors import ConflictError, InvalidInputError, NotFoundError
from sovra.transfer.layout import root_version_of

ROOT_EXPIRY = timedelta(days=365)
SIGNING_ROLES = ("targets", "snapshot", "timestamp")


def init_repository(repo: Path, root_keys: Sequence[Key], threshold: int,
                    signers: Sequence[Signer], now: datetime, *,
                    signing_keys: Sequence[Key] = (), signing_threshold: int | None = None,
                    expires: timedelta = ROOT_EXPIRY) -> Metadata[Root]:
    """Create root version 1 in a new repository, signed by ``threshold`` root keys."""
    if (repo / "roots").exists():
        raise ConflictError(f"{repo} already holds a repository")
    root = Root(version=1, expires=now + expires, consistent_snapshot=False)
    _assign_keys(root, root_keys, threshold, signing_keys or root_keys,
                 signing_threshold or threshold)
    metadata = Metadata(root)
    _sign(metadata, signers, root.roles["root"].keyids)
    _require_root_threshold(metadata, None)
    _write_root(repo, metadata)
    return metadata


def rotate_root(repo: Path, root_keys: Sequence[Key], threshold: int,
                signers: Sequence[Signer], now: datetime, *,
                signing_keys: Sequence[Key] = (), signing_threshold: int | None = None,
                expires: timedelta = ROOT_EXPIRY) -> Metadata[Root]:
    """Write root version N+1 with a new key set, signed by old AND new thresholds.

    TUF §5.3.4: a client accepts root N+1 only if a threshold of the keys of root N and a
    threshold of the keys of root N+1 signed it. Keys left out of the new root are
    revoked from then on. Signing roles get ``signing_keys`` if given; otherwise they
    follow the root keys when they shared them, and keep their own keys when not.
    """
    previous = latest_root(repo)
    old = previous.signed
    root = Root(version=old.version + 1, expires=now + expires, consistent_snapshot=False)
    # Shared mode (the signing roles used exactly the root keys): they follow the root,
    # so a key revoked from root is revoked everywhere. Otherwise they stay as they were.
    shared = set(old.roles["targets"].keyids) == set(old.roles["root"].keyids)
    keep = list(root_keys) if shared else [old.keys[k] for k in old.roles["targets"].keyids]
    keep_threshold = threshold if shared else old.roles["targets"].threshold
    _assign_keys(root, root_keys, threshold, signing_keys or keep,
                 signing_threshold or keep_threshold)
    metadata = Metadata(root)
    _sign(metadata, signers, set(old.roles["root"].keyids) | set(root.roles["root"].keyids))
    _require_root_threshold(metadata, old)
    _write_root(repo, metadata)
    return metadata


def root_history(repo: Path) -> list[bytes]:
    """Every root version's bytes, oldest first; raises NotFoundError for no repository."""
    folder = repo / "roots"
    if not folder.is_dir():
        raise NotFoundError(f"{repo} is not a bundle repository (run `sovra bundle root-init`)")
    versions = sorted(v for p in folder.iterdir() if (v := root_version_of(p.name)))
    if versions != list(range(1, len(versions) + 1)):
        raise InvalidInputError(f"root history in {folder} has gaps: {versions}")
    return [(folder / f"{v}.root.json").read_bytes() for v in versions]


def latest_root(repo: Path) -> Metadata[Root]:
    return Metadata[Root].from_bytes(root_history(repo)[-1])


def last_versions(repo: Path) -> dict[str, int]:
    """The role versions of the last bundle built here (0 before the first)."""
    path = repo / "versions.json"
    if not path.exists():
        return dict.fromkeys(SIGNING_ROLES, 0)
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {role: int(raw.get(role, 0)) for role in SIGNING_ROLES}


def record_versions(repo: Path, versions: dict[str, int]) -> None:
    write_durably(repo / "versions.json", json.dumps(versions, sort_keys=True).encode())


def sign_role(metadata: Metadata[Any], root: Root, signers: Sequence[Signer]) -> None:
    """Sign with every given key the root authorises for the role; fail below threshold."""
    role = metadata.signed.type
    _sign(metadata, signers, root.roles[role].keyids)
    try:
        root.verify_delegate(role, metadata.signed_bytes, metadata.signatures)
    except UnsignedMetadataError as exc:
        raise InvalidInputError(
            f"not enough signing keys for {role}: {exc}; pass more --keys") from exc


def write_durably(path: Path, data: bytes) -> None:
    """Write, fsync, rename, fsync the directory (house style 10)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)
    fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _assign_keys(root: Root, root_keys: Sequence[Key], threshold: int,
                 signing_keys: Sequence[Key], signing_threshold: int) -> None:
    for role, keys, needed in [("root", root_keys, threshold)] + [
            (r, signing_keys, signing_threshold) for r in SIGNING_ROLES]:
        if not 1 <= needed <= len({k.keyid for k in keys}):
            raise InvalidInputError(
                f"{role}: threshold {needed} needs at least that many distinct keys "
                f"(got {len({k.keyid for k in keys})})")
        root.roles[role] = Role([], needed)
        for key in keys:
            root.add_key(key, role)


def _sign(metadata: Metadata[Any], signers: Sequence[Signer], allowed: Iterable[str]) -> None:
    metadata.signatures.clear()
    keyids = set(allowed)
    for signer in signers:
        if signer.public_key.keyid in keyids:
            try:
                metadata.sign(signer, append=True)
            except UnsignedMetadataError as exc:  # e.g. the HSM refused or is absent
                raise InvalidInputError(f"key {signer.public_key.keyid[:12]} could not sign "
                                        f"{metadata.signed.type}: {exc}") from exc


def _require_root_threshold(metadata: Metadata[Root], previous: Root | None) -> None:
    result = metadata.signed.get_root_verification_result(
        previous, metadata.signed_bytes, metadata.signatures)
    if not result.verified:
        raise InvalidInputError(
            f"root v{metadata.signed.version} needs {result.first.missing} more signature(s) "
            f"from the previous root's keys and {result.second.missing} more from its own "
            "keys (TUF §5.3.4); pass more --keys")


def _write_root(repo: Path, metadata: Metadata[Root]) -> None:
    target = repo / "roots" / f"{metadata.signed.version}.root.json"
    if target.exists():
        raise ConflictError(f"{target} exists")
    write_durably(target, metadata.to_bytes())
