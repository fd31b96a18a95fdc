"""Pack an approved export as a signed bundle: the import path's TUF machinery, mirrored.

The site keeps an export signing repository in ``<data_dir>/export/`` (an Ed25519 key
made with ``sovra.transfer.keygen`` and a root made with ``init_repository``, the same
functions release officers use for imports). Each bundle has the transfer layout::

    metadata/1.root.json ... N.root.json, timestamp.json, snapshot.json, targets.json
    targets/exports/manifest.json        who asked, who approved, level, listing, ledger
    targets/exports/<file>               the redacted files

Targets lists each file's length and SHA-256; snapshot pins targets, timestamp pins
snapshot (TUF §5.5.2, §5.6.2). The receiver checks it offline with ``verify.py`` and
the site's export root, handed over once out of band (``sovra export root``).
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path

from securesystemslib.signer import Signer
from tuf.api.metadata import Metadata, MetaFile, Snapshot, TargetFile, Targets, Timestamp

from sovra.analytics.export import tokenkey
from sovra.keys import HsmConfig
from sovra.transfer import init_repository, keygen, load_signer, root_history

EXPORT_DIR = "exports"
MANIFEST = "manifest.json"
BUNDLE_DAYS = 30
_UNSAFE = re.compile(r"[^A-Za-z0-9._+-]+")


def safe_name(name: str) -> str:
    """A plain target file name for ``name`` (folders flattened with ``__``)."""
    flat = _UNSAFE.sub("_", name.replace("/", "__")).strip("._") or "file"
    return flat[:200]


class ExportSigner:
    """The site's export key and root, created on first use.

    The key is made once and then kept where it was made: on the keys room's PKCS#11
    token when the site's root key is on one (``token()`` names it; ``tokenkey.py``),
    otherwise as a file (Ed25519, ``keys/export.key``, mode 0600). The root a receiver
    pins names that key, so changing where it lives is a root rotation, not a setting.
    """

    def __init__(self, folder: Path,
                 token: Callable[[], HsmConfig | None] = lambda: None) -> None:
        self.folder = folder
        self.token = token

    def _key(self) -> Signer:
        key_path = self.folder / "keys" / "export.key"
        on_token = self.folder / "keys" / "export.token.json"
        if on_token.exists():
            return tokenkey.load(on_token, self.token())
        if not key_path.exists():
            config = self.token()
            if config is not None:
                tokenkey.describe(on_token, tokenkey.token_key(config), config)
                return tokenkey.load(on_token, config)
            keygen("export", key_path.parent)
        return load_signer(key_path)

    def _ensure(self, now: datetime) -> Signer:
        repo = self.folder / "repo"
        signer = self._key()
        if not (repo / "roots").exists():
            init_repository(repo, [signer.public_key], 1, [signer], now,
                            expires=timedelta(days=3650))
        return signer

    def root(self, now: datetime) -> bytes:
        """The current export root: what a receiver pins."""
        self._ensure(now)
        return root_history(self.folder / "repo")[-1]

    def pack(self, out: Path, files: Mapping[str, bytes], now: datetime) -> None:
        """Sign ``files`` (target name -> bytes) and write the bundle to ``out``."""
        signer = self._ensure(now)
        roots = root_history(self.folder / "repo")
        expires = now + timedelta(days=BUNDLE_DAYS)
        targets = {f"{EXPORT_DIR}/{name}": TargetFile.from_data(
            f"{EXPORT_DIR}/{name}", data, ["sha256"]) for name, data in files.items()}
        for info in targets.values():
            info.unrecognized_fields["custom"] = {"kind": "export",
                                                  "built_at": now.isoformat()}
        targets_md = Metadata(Targets(version=1, expires=expires, targets=targets))
        targets_md.sign(signer)
        targets_bytes = targets_md.to_bytes()
        snapshot_md = Metadata(Snapshot(version=1, expires=expires, meta={
            "targets.json": MetaFile.from_data(1, targets_bytes, ["sha256"])}))
        snapshot_md.sign(signer)
        snapshot_bytes = snapshot_md.to_bytes()
        timestamp_md = Metadata(Timestamp(version=1, expires=expires, snapshot_meta=(
            MetaFile.from_data(1, snapshot_bytes, ["sha256"]))))
        timestamp_md.sign(signer)
        members = [(f"metadata/{i}.root.json", data) for i, data in enumerate(roots, 1)]
        members += [("metadata/timestamp.json", timestamp_md.to_bytes()),
                    ("metadata/snapshot.json", snapshot_bytes),
                    ("metadata/targets.json", targets_bytes)]
        members += [(f"targets/{EXPORT_DIR}/{name}", data) for name, data in files.items()]
        _write(out, members, now)


def _write(out: Path, members: list[tuple[str, bytes]], now: datetime) -> None:
    """Write durably: a partial file, fsync, rename (house style 10)."""
    out.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = out.with_name(f".{out.name}.partial")
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), int(now.timestamp()), 0o644
            archive.addfile(info, io.BytesIO(data))
    with tmp.open("rb+") as handle:
        os.fsync(handle.fileno())
    tmp.replace(out)


__all__ = ["EXPORT_DIR", "MANIFEST", "ExportSigner", "safe_name"]
