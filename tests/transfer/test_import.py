"""Import on the disconnected side: what is verified, activated, recorded, reported."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from sovra.errors import (
    BundleVerificationError,
    ConflictError,
    PermissionDeniedError,
    UnsafeArchiveError,
)
from sovra.store.tables.transfer import transfer_targets
from sovra.transfer import rotate_root
from tests.transfer.conftest import NOW, Site, Workshop


def test_import_activates_every_kind_and_records_hashes(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build()
    result = site.service.import_bundle(bundle, site.admin)
    assert result.state == "activated"
    states = {t.kind: t.state for t in result.targets}
    assert states["model"] == "registered"
    assert states["policy"].startswith("proposed:v")  # awaits an approver in sovra.policy
    assert states["threat-intel"] == "stored"
    assert states["wheel"] == "kept"
    wheel = next(t for t in result.targets if t.kind == "wheel")
    assert wheel.stored_path.parent == site.data_dir / "wheels"
    for target in result.targets:
        assert target.stored_path.stat().st_size == target.length
    proposals = [v for v in site.instance.policy.versions() if v.status == "proposed"]
    assert len(proposals) == 1
    entries = [json.loads(body) for _, body in site.ledger_actions()]
    imported = next(e for e in entries if e["action"] == "bundles.import")
    activated = next(e for e in entries if e["action"] == "bundles.activate")
    for entry in (imported, activated):
        for role in ("root", "snapshot", "targets"):
            assert entry["details"][f"{role}_sha256"] == result.sha256[role]
    staging = site.data_dir / "transfer" / "staging"
    assert list(staging.iterdir()) == []


def test_activated_models_are_listed_for_the_registry(site: Site, workshop: Workshop) -> None:
    model = b"GGUF" + bytes(range(256)) * 16
    site.service.import_bundle(workshop.build(workshop.spec(model=model)), site.admin)
    (found,) = site.service.activated_models()
    assert found.component == "tiny-model"
    assert found.path.read_bytes() == model
    import hashlib

    assert found.sha256 == hashlib.sha256(model).hexdigest()
    assert found.manifest == {"source": "https://models.example/tiny", "licence": "Apache-2.0",
                              "intended_use": "tests"}
    assert found.sbom_path is not None
    sbom = json.loads(found.sbom_path.read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["metadata"]["component"]["hashes"][0]["content"] == found.sha256
    assert sbom["metadata"]["component"]["type"] == "machine-learning-model"


def test_gzip_bundle_imports(site: Site, workshop: Workshop) -> None:
    result = site.service.import_bundle(workshop.build(compress=True), site.admin)
    assert result.state == "activated"
    assert site.trust_versions()["targets"] == 1


def test_grace_lets_a_slow_transfer_in_and_is_recorded(site: Site, workshop: Workshop) -> None:
    bundle = workshop.build(workshop.spec(expires={"timestamp_days": 1}))
    site.with_settings(bundle_expiry_grace_s=2 * 86400.0)
    site.clock.now = NOW + timedelta(days=2)  # a day past expiry, inside the grace
    result = site.service.import_bundle(bundle, site.admin)
    assert result.grace_needed_s == 86400.0
    imported = next(json.loads(b) for a, b in site.ledger_actions() if a == "bundles.import")
    assert imported["details"]["grace_allowed_s"] == 2 * 86400.0
    assert imported["details"]["grace_needed_s"] == 86400.0


def test_root_rotation_is_followed_and_persisted(site: Site, workshop: Workshop) -> None:
    rotate_root(workshop.repo, workshop.public("c", "d", "e"), 2,
                [workshop.signers[k] for k in "abde"], NOW)
    result = site.service.import_bundle(workshop.build(keys="de"), site.admin)
    assert result.versions["root"] == 2
    assert site.trust_versions()["root"] == 2
    assert any("pinned v1 -> v2" in check for check in result.checks)
    # The next bundle is verified against root v2 even if it carried no new root.
    assert site.service.import_bundle(workshop.build(keys="cd"), site.admin).state == "activated"


def test_rotation_needs_old_and_new_thresholds(workshop: Workshop) -> None:
    from sovra.errors import InvalidInputError

    with pytest.raises(InvalidInputError, match="previous root"):
        rotate_root(workshop.repo, workshop.public("c", "d", "e"), 2,
                    [workshop.signers[k] for k in "de"], NOW)  # new keys only
    with pytest.raises(InvalidInputError, match="from its own"):
        rotate_root(workshop.repo, workshop.public("c", "d", "e"), 2,
                    [workshop.signers[k] for k in "ab"], NOW)  # old keys only


def test_two_person_import(site: Site, workshop: Workshop) -> None:
    site.with_settings(bundle_two_person=True)
    held = site.service.import_bundle(workshop.build(), site.admin)
    assert held.state == "awaiting_approval"
    assert site.count(transfer_targets) == 0
    assert site.service.status().awaiting_approval == (held.bundle_id,)
    with pytest.raises(PermissionDeniedError):
        site.service.approve(held.bundle_id, site.admin)  # the importer cannot approve
    assert site.count(transfer_targets) == 0
    done = site.service.approve(held.bundle_id, site.approver)
    assert done.state == "activated"
    assert {t.kind for t in done.targets} >= {"model", "policy", "wheel", "threat-intel"}
    assert site.count(transfer_targets) == len(done.targets)
    with pytest.raises(ConflictError):
        site.service.approve(held.bundle_id, site.approver)
    staging = site.data_dir / "transfer" / "staging"
    assert list(staging.iterdir()) == []


def test_two_person_approval_rechecks_versions(site: Site, workshop: Workshop) -> None:
    site.with_settings(bundle_two_person=True)
    older = site.service.import_bundle(workshop.build(), site.admin)
    newer = site.service.import_bundle(workshop.build(), site.admin)
    site.service.approve(newer.bundle_id, site.approver)
    with pytest.raises(BundleVerificationError, match="rollback"):
        site.service.approve(older.bundle_id, site.approver)
    # Refused for good: its staging is gone and it no longer waits.
    assert site.service.status().awaiting_approval == ()
    assert list((site.data_dir / "transfer" / "staging").iterdir()) == []


def test_two_person_reject(site: Site, workshop: Workshop) -> None:
    site.with_settings(bundle_two_person=True)
    before = site.snapshot()
    held = site.service.import_bundle(workshop.build(), site.admin)
    with pytest.raises(PermissionDeniedError):
        site.service.reject(held.bundle_id, site.admin)
    site.service.reject(held.bundle_id, site.approver, "not from our release officers")
    assert site.count(transfer_targets) == 0
    assert site.trust_versions() == before[2]
    assert list((site.data_dir / "transfer" / "staging").iterdir()) == []
    assert site.service.status().awaiting_approval == ()
    with pytest.raises(ConflictError):
        site.service.approve(held.bundle_id, site.approver)
    assert any(action == "bundles.reject" for action, _ in site.ledger_actions())


def test_staged_file_changed_before_approval(site: Site, workshop: Workshop) -> None:
    site.with_settings(bundle_two_person=True)
    held = site.service.import_bundle(workshop.build(), site.admin)
    model = next(t for t in held.targets if t.kind == "model")
    model.stored_path.write_bytes(bytes(model.length))  # same length, other content
    with pytest.raises(BundleVerificationError, match="changed since it was verified"):
        site.service.approve(held.bundle_id, site.approver)
    assert site.count(transfer_targets) == 0
    assert list((site.data_dir / "transfer" / "staging").iterdir()) == []


def test_status_reports_versions_and_patch_lag(site: Site, workshop: Workshop) -> None:
    assert site.service.status().patch_lag_s is None
    site.service.import_bundle(workshop.build(), site.admin)
    site.clock.now = NOW + timedelta(days=10)
    status = site.service.status()
    assert status.patch_lag_s == 10 * 86400.0
    assert status.versions == {"root": 1, "timestamp": 1, "snapshot": 1, "targets": 1}
    by_kind = {(c.kind, c.component): c for c in status.components}
    assert by_kind[("model", "tiny-model")].version == "1.1"
    assert by_kind[("wheel", "sovra")].age_s == 10 * 86400.0
    assert ("running", "sovra") in by_kind


def test_no_pinned_root_refuses(instance: object, workshop: Workshop, tmp_path: Path) -> None:
    from sovra.instance import Instance
    from sovra.transfer import TransferService

    assert isinstance(instance, Instance)
    instance.identity.create_principal("system", "carol", roles=["admin"])
    service = TransferService(instance.engine, instance.settings, instance.ledger,
                              instance.policy)
    with pytest.raises(BundleVerificationError, match="no trusted root"):
        service.import_bundle(workshop.build(), instance.identity.caller_for("carol"))


def test_pinning_an_unsigned_root_refuses(site: Site, workshop: Workshop) -> None:
    root = json.loads((workshop.repo / "roots" / "1.root.json").read_text())
    root["signatures"] = []
    with pytest.raises(BundleVerificationError, match="threshold not met"):
        site.service.trust_root(json.dumps(root).encode(), site.admin)


def test_a_second_different_root_cannot_be_pinned(site: Site, workshop: Workshop) -> None:
    rotate_root(workshop.repo, workshop.public("c", "d", "e"), 2,
                [workshop.signers[k] for k in "abde"], NOW)
    other = (workshop.repo / "roots" / "2.root.json").read_bytes()
    with pytest.raises(ConflictError):
        site.service.trust_root(other, site.admin)


def test_invalid_policy_pack_rejects_the_bundle(site: Site, workshop: Workshop) -> None:
    spec = workshop.spec()
    bad = workshop.folder / "bad.cedar"
    bad.write_text("permit (principal, action, resource")  # does not parse
    spec = spec.model_copy(update={"targets": [
        t.model_copy(update={"path": bad}) if t.kind == "policy" else t
        for t in spec.targets]})
    before = site.snapshot()
    with pytest.raises(BundleVerificationError, match="does not validate"):
        site.service.import_bundle(workshop.build(spec), site.admin)
    site.assert_nothing_activated(before)
    assert "does not validate" in str(site.last_import_failure()["details"])


def test_rejected_import_records_failure_and_keeps_versions(site: Site,
                                                            workshop: Workshop) -> None:
    with site.instance.engine.connect() as conn:
        assert conn.execute(select(transfer_targets)).first() is None
    bundle = workshop.build()
    cut = workshop.folder / "cut.tar"
    cut.write_bytes(bundle.read_bytes()[:3000])
    with pytest.raises(UnsafeArchiveError, match="truncated"):
        site.service.import_bundle(cut, site.admin)
    assert site.last_import_failure()["outcome"] == "failure"
    assert site.service.import_bundle(bundle, site.admin).state == "activated"
