"""The outbound diode in process (both profiles): redaction, review, two approvals that
are not the requester's, the ceiling, the signed bundle and its offline verification."""

from __future__ import annotations

import io
import tarfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sovra.analytics.export import verify_export
from sovra.analytics.export.bundle import ExportSigner
from sovra.errors import (
    BundleVerificationError,
    ConflictError,
    InvalidInputError,
    KeyCustodyError,
    NotFoundError,
    PermissionDeniedError,
)
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Classification
from tests.analytics.conftest import ADMIN, ANALYST, spec
from tests.analytics.ledger import entries

ANN = Caller("ann", "user", frozenset({"approver"}), "secret")
ABE = Caller("abe", "user", frozenset({"approver"}), "secret")
NOW = datetime.now(UTC)


def released(hr: Instance) -> str:
    made = hr.exports.create(ANALYST, "portability", "hr")
    hr.exports.approve(ANN, made.id)
    hr.exports.approve(ABE, made.id)
    return made.id


def test_the_reviewer_sees_exactly_what_leaves_against_the_unredacted_view(
        hr: Instance) -> None:
    made = hr.exports.create(ANALYST, "portability", "hr")
    assert made.state == "pending"
    assert made.listing[0]["redacted"] == {"email": 3, "iban": 3}
    review = hr.exports.review(ANN, made.id)
    assert "-Anna Keller | anna.keller@example.com | DE89370400440532013000" in review.diff
    assert "+Anna Keller | [EMAIL] | [IBAN] | 52000 | sales" in review.diff
    assert not hr.exports.outbox.exists()  # nothing written before approval


def test_two_approvers_neither_the_requester_then_a_verified_bundle(hr: Instance) -> None:
    made = hr.exports.create(ANALYST, "portability", "hr")
    with pytest.raises(PermissionDeniedError, match="may not approve"):
        hr.exports.approve(ANALYST, made.id)
    assert hr.exports.approve(ANN, made.id).state == "pending"
    with pytest.raises(ConflictError):
        hr.exports.bundle_path(ANN, made.id)
    with pytest.raises(ConflictError, match="already"):
        hr.exports.approve(ANN, made.id)
    done = hr.exports.approve(ABE, made.id)
    assert done.state == "released" and done.approvers == ("ann", "abe")
    path = hr.exports.bundle_path(ANN, made.id)
    verified = verify_export(path, hr.exports.root(), NOW)
    assert verified.manifest["approvers"] == ["ann", "abe"]
    assert verified.manifest["requester"] == "bob"
    staff = verified.files["hr__staff.csv"].decode()
    assert "[IBAN]" in staff and "DE89370400440532013000" not in staff
    assert "example.com" not in staff
    actions = [e["action"] for e in entries(hr, "export.release")]
    assert actions == ["export.release"]


def test_the_unredacted_view_is_erased_on_release(hr: Instance) -> None:
    export_id = released(hr)
    with pytest.raises(ConflictError, match="erased"):
        hr.exports.review(ANN, export_id)
    with pytest.raises(KeyCustodyError):
        hr.keys.decrypt(f"analytics.export.{export_id}", f"export/{export_id}", b"x" * 64)


def test_above_the_ceiling_nothing_leaves_whatever_the_clearance(hr: Instance) -> None:
    hr.data.create_collection(ADMIN, spec("vault"))
    hr.data.ingest(ADMIN, "vault", "board.csv", b"topic,amount\nfalcon,1\n",
                   Classification.CONFIDENTIAL)
    with pytest.raises(PermissionDeniedError, match="above the export ceiling"):
        hr.exports.create(ADMIN, "portability", "vault")
    assert hr.exports.count() == 0
    assert entries(hr, "export.create")[-1]["outcome"] == "denied"


def test_support_and_usage_bundles_are_internal_and_redacted(hr: Instance) -> None:
    support = hr.exports.create(ANALYST, "support")
    names = [f["name"] for f in support.listing]
    assert names[:3] == ["settings.json", "versions.json", "ledger-tail.jsonl"]
    assert support.classification is Classification.INTERNAL
    usage = hr.exports.create(ANALYST, "usage")
    assert usage.listing[0]["name"] == "usage.json"


def test_unknown_kinds_and_collections_are_refused(hr: Instance) -> None:
    with pytest.raises(InvalidInputError, match="unknown export kind"):
        hr.exports.create(ANALYST, "everything")
    with pytest.raises(NotFoundError):
        hr.exports.create(ANALYST, "portability", "nowhere")


def _rewrite(path: Path, out: Path, change: dict[str, bytes | None]) -> None:
    with tarfile.open(path) as src, tarfile.open(out, "w") as dst:
        for info in src:
            handle = src.extractfile(info)
            data = handle.read() if handle else b""
            if info.name in change:
                replaced = change.pop(info.name)
                if replaced is None:
                    continue
                data = replaced
            info.size = len(data)
            dst.addfile(info, io.BytesIO(data))
        for name, data in change.items():
            if data is not None:
                extra = tarfile.TarInfo(name)
                extra.size = len(data)
                dst.addfile(extra, io.BytesIO(data))


@pytest.mark.parametrize(("attack", "change"), [
    ("tampered_file", {"targets/exports/hr__staff.csv": b"name\nsomeone else\n"}),
    ("removed_file", {"targets/exports/hr__staff.csv": None}),
    ("smuggled_file", {"targets/exports/extra.txt": b"unlisted"}),
    ("file_outside_layout", {"README": b"read me"}),
    ("tampered_targets", {"metadata/targets.json": b"{}"}),
])
def test_verification_attacks(hr: Instance, tmp_path: Path, attack: str,
                              change: dict[str, bytes | None]) -> None:
    path = hr.exports.bundle_path(ANN, released(hr))
    bad = tmp_path / f"{attack}.tar"
    _rewrite(path, bad, dict(change))
    with pytest.raises(BundleVerificationError):
        verify_export(bad, hr.exports.root(), NOW)


def test_another_sites_root_does_not_verify(hr: Instance, tmp_path: Path) -> None:
    path = hr.exports.bundle_path(ANN, released(hr))
    foreign = ExportSigner(tmp_path / "other-site").root(NOW)
    with pytest.raises(BundleVerificationError, match="not signed"):
        verify_export(path, foreign, NOW)


def test_an_expired_bundle_does_not_verify(hr: Instance) -> None:
    path = hr.exports.bundle_path(ANN, released(hr))
    with pytest.raises(BundleVerificationError, match="expired"):
        verify_export(path, hr.exports.root(), NOW + timedelta(days=31))
