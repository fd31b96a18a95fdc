"""Build a signed bundle from a SPEC (connected side).

Targets metadata lists every file with its length, SHA-256 and a signed ``custom``
block (kind, component, version, build time, and for models the manifest and SBOM);
snapshot pins targets.json by version, length and hash, timestamp pins snapshot.json
the same way (TUF §5.5.2, §5.6.2), so metadata from different bundles cannot be mixed.
Every role is signed by a threshold of the offline keys given.
"""

from __future__ import annotations

import hashlib
import io
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp

from sovra.errors import InvalidInputError
from sovra.transfer.layout import (
    role_member,
    root_member,
    target_member,
    target_path_for,
)
from sovra.transfer.repository import (
    last_versions,
    latest_root,
    record_versions,
    root_history,
    sign_role,
)
from sovra.transfer.sbom import model_sbom
from sovra.transfer.spec import BundleSpec, TargetSpec

_CHUNK = 1 << 20


@dataclass(frozen=True)
class BuiltTarget:
    path: str
    kind: str
    component: str
    version: str
    length: int
    sha256: str


@dataclass(frozen=True)
class BuildResult:
    """What ``build_bundle`` wrote."""

    archive: Path
    root_version: int
    timestamp_version: int
    snapshot_version: int
    targets_version: int
    targets: tuple[BuiltTarget, ...]


@dataclass(frozen=True)
class _Source:
    path: str
    data: Path | bytes
    info: TargetFile


def build_bundle(spec: BundleSpec, repo: Path, signers: Sequence[Signer], out: Path,
                 now: datetime, *, compress: bool = False) -> BuildResult:
    """Sign and write the bundle archive for ``spec``; returns its versions and targets."""
    roots = root_history(repo)
    root = latest_root(repo).signed
    if root.is_expired(now):
        raise InvalidInputError(f"root v{root.version} expired on {root.expires}; rotate it")
    versions = {role: v + 1 for role, v in last_versions(repo).items()}
    sources = _sources(spec, now)
    targets_md = Metadata(Targets(
        version=versions["targets"], expires=now + timedelta(days=spec.expires.targets_days),
        targets={s.path: s.info for s in sources}))
    sign_role(targets_md, root, signers)
    targets_bytes = targets_md.to_bytes()
    snapshot_md = Metadata(Snapshot(
        version=versions["snapshot"], expires=now + timedelta(days=spec.expires.snapshot_days),
        meta={"targets.json": MetaFile.from_data(versions["targets"], targets_bytes,
                                                 ["sha256"])}))
    sign_role(snapshot_md, root, signers)
    snapshot_bytes = snapshot_md.to_bytes()
    timestamp_md = Metadata(Timestamp(
        version=versions["timestamp"],
        expires=now + timedelta(days=spec.expires.timestamp_days),
        snapshot_meta=MetaFile.from_data(versions["snapshot"], snapshot_bytes, ["sha256"])))
    sign_role(timestamp_md, root, signers)
    members: list[tuple[str, Path | bytes]] = [
        (root_member(i), data) for i, data in enumerate(roots, start=1)]
    members += [(role_member("timestamp"), timestamp_md.to_bytes()),
                (role_member("snapshot"), snapshot_bytes),
                (role_member("targets"), targets_bytes)]
    members += [(target_member(s.path), s.data) for s in sources]
    _write_archive(out, members, now, compress=compress)
    record_versions(repo, versions)
    return BuildResult(out, root.version, versions["timestamp"], versions["snapshot"],
                       versions["targets"], tuple(_built(s) for s in sources))


def _sources(spec: BundleSpec, now: datetime) -> list[_Source]:
    sources: list[_Source] = []
    for target in spec.targets:
        length, digest = _hash_file(target.path)
        name = target.name or target.path.name
        custom: dict[str, Any] = {"kind": target.kind, "component": target.component,
                                  "version": target.version, "bundle": spec.name,
                                  "built_at": now.isoformat()}
        if target.kind == "model":
            sources.append(_sbom_source(target, name, digest, now))
            custom["manifest"] = target.manifest.model_dump() if target.manifest else None
            custom["sbom"] = sources[-1].path
        path = _target_path(target.kind, name)
        info = TargetFile(length, {"sha256": digest}, path, {"custom": custom})
        sources.append(_Source(path, target.path, info))
    paths = [s.path for s in sources]
    if len(paths) != len(set(paths)):
        raise InvalidInputError("two targets of the same kind share a name; set `name:`")
    return sources


def _sbom_source(target: TargetSpec, name: str, digest: str, now: datetime) -> _Source:
    if target.manifest is None:
        raise InvalidInputError(f"model {target.component} needs a manifest")
    data = model_sbom(target.component, target.version, digest, manifest=target.manifest,
                      parts=target.sbom, built_at=now)
    path = _target_path("sbom", f"{name}.cdx.json")
    custom = {"kind": "sbom", "component": target.component, "version": target.version,
              "built_at": now.isoformat(), "describes": _target_path("model", name)}
    info = TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest()}, path,
                      {"custom": custom})
    return _Source(path, data, info)


def _target_path(kind: str, name: str) -> str:
    try:
        return target_path_for(kind, name)
    except ValueError as exc:
        raise InvalidInputError(str(exc)) from exc


def _built(source: _Source) -> BuiltTarget:
    custom = source.info.custom
    return BuiltTarget(source.path, custom["kind"], custom["component"], custom["version"],
                       source.info.length, source.info.hashes["sha256"])


def _hash_file(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    length = 0
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
                length += len(chunk)
    except OSError as exc:
        raise InvalidInputError(f"cannot read target {path}: {exc}") from exc
    return length, digest.hexdigest()


def _write_archive(out: Path, members: list[tuple[str, Path | bytes]], now: datetime, *,
                   compress: bool) -> None:
    tmp = out.with_name(f".{out.name}.partial")
    with _open_archive(tmp, compress=compress) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.mtime = int(now.timestamp())
            info.mode = 0o644
            if isinstance(data, bytes):
                info.size = len(data)
                archive.addfile(info, io.BytesIO(data))
            else:
                info.size = data.stat().st_size
                with data.open("rb") as handle:
                    archive.addfile(info, handle)
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    tmp.replace(out)


def _open_archive(path: Path, *, compress: bool) -> tarfile.TarFile:
    if compress:
        # Level 6 (gzip's default): 9 costs far more time for little on model weights.
        return tarfile.open(path, "w:gz", format=tarfile.PAX_FORMAT, compresslevel=6)
    return tarfile.open(path, "w", format=tarfile.PAX_FORMAT)
