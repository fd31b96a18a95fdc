"""One test per attack on the air gap (issue 6). Each asserts the import is refused,
nothing is activated, no staged file is left, and the refusal is in the ledger."""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from datetime import timedelta
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata

from sovra.errors import BundleVerificationError, UnsafeArchiveError
from sovra.transfer import build_bundle, rotate_root
from tests.transfer.conftest import NOW, Site, Workshop
from tests.transfer.tartools import (
    data_of,
    member,
    read_members,
    replace,
    rewrite,
    write_members,
)

MODEL = "targets/models/tiny.gguf"


def _refused(site: Site, bundle: Path, error: type[Exception], match: str) -> dict[str, object]:
    before = site.snapshot()
    with pytest.raises(error, match=match):
        site.service.import_bundle(bundle, site.admin)
    site.assert_nothing_activated(before)
    return site.last_import_failure()


def test_arbitrary_target_hash_mismatch(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    evil = os.urandom(len(data_of(bundle, MODEL)))  # same length, other bytes
    tampered = rewrite(bundle, workshop.folder / "evil.tar", replace(MODEL, evil))
    entry = _refused(site, tampered, BundleVerificationError, "arbitrary target: sha256")
    # The refusal names the metadata that was offered, by hash.
    details = entry["details"]
    assert isinstance(details, dict)
    assert len(str(details["targets_sha256"])) == 64


def test_arbitrary_target_not_listed(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    extra = rewrite(bundle, workshop.folder / "extra.tar",
                    lambda ms: [*ms, member("targets/models/backdoor.gguf", b"x" * 10)])
    _refused(site, extra, BundleVerificationError, "not listed in the signed targets")


def test_rollback_to_an_older_version(site: Site, workshop: Workshop) -> None:
    old = workshop.build()
    new = workshop.build()
    site.service.import_bundle(new, site.admin)
    assert site.trust_versions()["timestamp"] == 2
    _refused(site, old, BundleVerificationError, "rollback: timestamp v1 is not newer than v2")


def test_replay_of_the_same_bundle(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    site.service.import_bundle(bundle, site.admin)
    _refused(site, bundle, BundleVerificationError, "rollback")


def test_freeze_expired_timestamp_beyond_grace(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build(workshop.spec(expires={"timestamp_days": 1}))
    site.with_settings(bundle_expiry_grace_s=3600.0)
    site.clock.now = NOW + timedelta(days=1, hours=2)  # expired 2h ago, grace 1h
    entry = _refused(site, bundle, BundleVerificationError, "freeze: timestamp expired")
    details = entry["details"]
    assert isinstance(details, dict)
    assert details["grace_allowed_s"] == 3600.0


def test_mix_and_match_metadata_from_different_bundles(site: Site, workshop: Workshop) -> None:
    first = workshop.build()
    second = workshop.build()
    snapshot = data_of(second, "metadata/snapshot.json")
    mixed = rewrite(first, workshop.folder / "mixed.tar",
                    replace("metadata/snapshot.json", snapshot))
    _refused(site, mixed, BundleVerificationError, "mix-and-match: snapshot.json")


def test_endless_data_target_longer_than_declared(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    longer = data_of(bundle, MODEL) + os.urandom(1 << 20)
    endless = rewrite(bundle, workshop.folder / "endless.tar", replace(MODEL, longer))
    _refused(site, endless, BundleVerificationError, "endless data")


def test_threshold_not_met(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    timestamp = json.loads(data_of(bundle, "metadata/timestamp.json"))
    timestamp["signatures"] = timestamp["signatures"][:1]  # 1 of the 2 required
    weak = rewrite(bundle, workshop.folder / "weak.tar",
                   replace("metadata/timestamp.json", json.dumps(timestamp).encode()))
    _refused(site, weak, BundleVerificationError, "threshold not met for timestamp")


def test_signature_by_unknown_key(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    timestamp = Metadata.from_bytes(data_of(bundle, "metadata/timestamp.json"))
    timestamp.sign(workshop.signers["a"])
    timestamp.sign(workshop.signers["d"], append=True)  # d is not in the root
    forged = rewrite(bundle, workshop.folder / "forged.tar",
                     replace("metadata/timestamp.json", timestamp.to_bytes()))
    entry = _refused(site, forged, BundleVerificationError, "unknown key")
    assert "threshold not met" in str(entry["details"])


def test_revoked_key_after_rotation(site: Site, workshop: Workshop, tmp_path: Path) -> None:
    stolen_repo = tmp_path / "stolen-repo"
    shutil.copytree(workshop.repo, stolen_repo)  # the attacker kept root v1 and key a
    rotate_root(workshop.repo, workshop.public("b", "c", "d"), 2,
                [workshop.signers[k] for k in "abcd"], NOW)
    site.service.import_bundle(workshop.build(keys="bc"), site.admin)
    assert site.trust_versions()["root"] == 2
    (stolen_repo / "versions.json").write_text('{"timestamp": 50, "snapshot": 50, '
                                               '"targets": 50}')
    rebuilt = workshop.folder / "revoked.tar"
    build_bundle(workshop.spec(), stolen_repo, [workshop.signers["a"], workshop.signers["b"]],
                 rebuilt, NOW)
    _refused(site, rebuilt, BundleVerificationError, "threshold not met for timestamp")


def test_tampered_root(site: Site, workshop: Workshop) -> None:
    rotate_root(workshop.repo, workshop.public("b", "c", "d"), 2,
                [workshop.signers[k] for k in "abcd"], NOW)
    bundle = workshop.build(keys="bc")
    root = json.loads(data_of(bundle, "metadata/2.root.json"))
    root["signed"]["roles"]["targets"]["threshold"] = 1  # weaken without re-signing
    tampered = rewrite(bundle, workshop.folder / "root.tar",
                       replace("metadata/2.root.json", json.dumps(root).encode()))
    _refused(site, tampered, BundleVerificationError, "threshold not met for root v2")


def test_tampered_pinned_root_version(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    root = json.loads(data_of(bundle, "metadata/1.root.json"))
    root["signed"]["expires"] = "2099-01-01T00:00:00Z"
    tampered = rewrite(bundle, workshop.folder / "root1.tar",
                       replace("metadata/1.root.json", json.dumps(root).encode()))
    _refused(site, tampered, BundleVerificationError, "tampered root")


@pytest.mark.parametrize("name", ["../escape.txt", "targets/../../escape.txt",
                                  "/tmp/escape.txt", "targets/./models/x"])
def test_path_traversal(site: Site, workshop: Workshop, name: str) -> None:
    bundle = workshop.build()
    evil = rewrite(bundle, workshop.folder / "traversal.tar",
                   lambda ms: [member(name, b"pwned"), *ms])
    _refused(site, evil, UnsafeArchiveError, "unsafe member name")
    assert not (site.data_dir / "transfer" / "escape.txt").exists()
    assert not (site.data_dir.parent / "escape.txt").exists()


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_symlink_escape(site: Site, workshop: Workshop, kind: bytes) -> None:
    bundle = workshop.build()
    link = tarfile.TarInfo("targets/models/tiny.gguf")
    link.type = kind
    link.linkname = "/etc/passwd"
    members = [(i, b) for i, b in read_members(bundle) if i.name != MODEL]
    evil = write_members(workshop.folder / "link.tar", [*members, (link, b"")])
    _refused(site, evil, UnsafeArchiveError, "link member")


def test_device_file(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    device = tarfile.TarInfo("targets/models/null")
    device.type = tarfile.CHRTYPE
    evil = write_members(workshop.folder / "dev.tar", [*read_members(bundle), (device, b"")])
    _refused(site, evil, UnsafeArchiveError, "device")


def test_decompression_bomb(site: Site, workshop: Workshop) -> None:
    # 64 MiB of zeros gzip to ~64 kB: far beyond the 200:1 ratio the site accepts.
    bundle = workshop.build(workshop.spec(model=bytes(64 << 20)), compress=True)
    assert bundle.stat().st_size < 1 << 20
    _refused(site, bundle, UnsafeArchiveError, "decompression bomb")


def test_duplicate_entries(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    members = read_members(bundle)
    evil_model = next((i, os.urandom(len(b))) for i, b in members if i.name == MODEL)
    dup = write_members(workshop.folder / "dup.tar", [*members, evil_model])
    _refused(site, dup, UnsafeArchiveError, "duplicate member")


@pytest.mark.parametrize("compress", [False, True], ids=["tar", "gzip"])
def test_truncated_archive(site: Site, workshop: Workshop, compress: bool) -> None:
    bundle = workshop.build(workshop.spec(model=os.urandom(1 << 20)), compress=compress)
    data = bundle.read_bytes()
    cut = workshop.folder / "cut.tar"
    cut.write_bytes(data[: len(data) * 2 // 3])
    _refused(site, cut, UnsafeArchiveError, "truncated")


def test_truncated_at_a_member_boundary(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    members = read_members(bundle)
    # A clean tar with the last target missing: only the signed metadata can tell.
    short = write_members(workshop.folder / "short.tar", members[:-1])
    _refused(site, short, BundleVerificationError, "incomplete bundle")
