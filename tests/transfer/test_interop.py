"""Interop: python-tuf's own client verifies the metadata inside a bundle.

``tuf.ngclient.Updater`` reads the unpacked bundle through a fetcher that serves files
from a folder (no network), walks the root chain, verifies timestamp, snapshot and
targets, and downloads a target with its length and hash checked.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from tuf.api.exceptions import DownloadError, DownloadHTTPError, RepositoryError
from tuf.ngclient import Updater
from tuf.ngclient.fetcher import FetcherInterface

from sovra.transfer import UnpackLimits, extract_unverified, rotate_root
from tests.transfer.conftest import Workshop

BASE = "bundle://local/"


class FolderFetcher(FetcherInterface):
    """Serves ``bundle://local/<path>`` from a folder; a missing file is HTTP 404."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.fetched: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        path = self.folder / unquote(urlparse(url).path).lstrip("/")
        if not path.is_file() or not path.resolve().is_relative_to(self.folder.resolve()):
            raise DownloadHTTPError(f"{url} not found", 404)
        self.fetched.append(path.relative_to(self.folder).as_posix())
        return iter([path.read_bytes()])


def _updater(unpacked: Path, cache: Path, bootstrap: bytes) -> tuple[Updater, FolderFetcher]:
    fetcher = FolderFetcher(unpacked)
    cache.mkdir()
    updater = Updater(metadata_dir=str(cache), metadata_base_url=BASE + "metadata/",
                      target_dir=str(cache), target_base_url=BASE + "targets/",
                      fetcher=fetcher, bootstrap=bootstrap)
    return updater, fetcher


def test_ngclient_verifies_bundle_metadata_and_targets(workshop: Workshop,
                                                       tmp_path: Path) -> None:
    now = datetime.now(UTC)  # ngclient checks expiry against the real clock
    bootstrap = (workshop.repo / "roots" / "1.root.json").read_bytes()
    rotate_root(workshop.repo, workshop.public("b", "c", "d"), 2,
                [workshop.signers[k] for k in "abcd"], now)
    bundle = workshop.build(keys="bc", now=now)
    unpacked = tmp_path / "unpacked"
    names = extract_unverified(bundle, unpacked, UnpackLimits())
    assert "metadata/2.root.json" in names

    updater, fetcher = _updater(unpacked, tmp_path / "cache", bootstrap)
    updater.refresh()
    assert "metadata/2.root.json" in fetcher.fetched  # the root chain was walked
    info = updater.get_targetinfo("models/tiny.gguf")
    assert info is not None
    assert info.custom["manifest"]["licence"] == "Apache-2.0"
    downloaded = Path(updater.download_target(info))
    assert downloaded.read_bytes() == (unpacked / "targets/models/tiny.gguf").read_bytes()


def test_ngclient_rejects_a_tampered_bundle_too(workshop: Workshop, tmp_path: Path) -> None:
    now = datetime.now(UTC)
    bundle = workshop.build(now=now)
    unpacked = tmp_path / "unpacked"
    extract_unverified(bundle, unpacked, UnpackLimits())
    model = unpacked / "targets/models/tiny.gguf"
    model.write_bytes(bytes(model.stat().st_size))  # same length, other content
    bootstrap = (workshop.repo / "roots" / "1.root.json").read_bytes()
    updater, _ = _updater(unpacked, tmp_path / "cache", bootstrap)
    updater.refresh()
    info = updater.get_targetinfo("models/tiny.gguf")
    assert info is not None
    with pytest.raises(RepositoryError):
        updater.download_target(info)

    snapshot = unpacked / "metadata/snapshot.json"
    raw = json.loads(snapshot.read_bytes())
    raw["signed"]["version"] = 7
    snapshot.write_text(json.dumps(raw))
    fresh, _ = _updater(unpacked, tmp_path / "cache2", bootstrap)
    # Longer than timestamp's signed length: refused before parsing (endless data).
    with pytest.raises((RepositoryError, DownloadError)):
        fresh.refresh()
