"""The site side: pin a root, import bundles, approve them, report status.

Order of every import (issue 6, TUF §5): unpack defensively into a private staging
folder while verifying metadata and then every target; record the verified import in
the ledger; only then activate (or, with two-person import, wait for an approver).
Activation records first and acts second; a failure records its outcome. Anything
rejected is recorded with the hashes seen so far and leaves no file behind.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from sovra.config import Settings
from sovra.errors import (
    BundleVerificationError,
    ConflictError,
    PermissionDeniedError,
    PolicyValidationError,
    StorageError,
    TransferError,
)
from sovra.policy import CompiledPolicies, PolicyService, Resource
from sovra.transfer import store
from sovra.transfer.activate import Placement, place_targets, undo
from sovra.transfer.archive import Progress, UnpackLimits
from sovra.transfer.catalog import activated_models, transfer_status
from sovra.transfer.layout import TARGETS_DIR
from sovra.transfer.results import ActivatedModel, ImportResult, TargetRecord, TransferStatus
from sovra.transfer.staging import StagedBundle, discard, recheck_staged, stage_bundle
from sovra.transfer.verify import (
    BundleMetadata,
    TrustState,
    VerifiedMetadata,
    sha256_hex,
    verify_metadata,
    verify_root_self_signed,
)
from sovra.vocabulary import Caller, LedgerSink

APPROVER_ROLE = "approver"
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class TransferService:
    """Import and activation of signed bundles (``instance.transfer``)."""

    def __init__(self, engine: Engine, settings: Settings, ledger: LedgerSink,
                 policy: PolicyService, *, clock: Clock = utc_now) -> None:
        self._engine = engine
        self._settings = settings
        self._ledger = ledger
        self._policy = policy
        self._clock = clock
        self._activation_lock = threading.Lock()
        # Called with (actor, origin, target path, staged file, SHA-256) for every payload
        # before activation; raises QuarantinedError to refuse the bundle (sovra.threat,
        # wired by sovra.instance). None: no screening.
        self._screen: Callable[[str, str, str, Path, str], None] | None = None

    def use_screen(self, screen: Callable[[str, str, str, Path, str], None] | None) -> None:
        """Scan every payload before a bundle activates (``sovra.threat``)."""
        self._screen = screen

    @property
    def limits(self) -> UnpackLimits:
        s = self._settings
        return UnpackLimits(max_bytes=s.bundle_max_bytes, max_members=s.bundle_max_members,
                            max_ratio=s.bundle_max_ratio)

    @property
    def grace(self) -> timedelta:
        return timedelta(seconds=self._settings.bundle_expiry_grace_s)

    def trust_root(self, data: bytes, caller: Caller) -> int:
        """Pin the site's first trusted root (self-signed by its threshold); its version."""
        self._policy.require(caller, "bundles.import", Resource("Bundle", "root"))
        root = verify_root_self_signed(data)
        existing = store.load_trust(self._engine)
        if existing is not None:
            if existing.root == data:
                return root.signed.version
            raise ConflictError("a root is pinned already; new roots arrive inside bundles "
                                "(root rotation, TUF §5.3)")
        details = {"root_version": root.signed.version,
                   "root_sha256": sha256_hex(data), "expires": root.signed.expires.isoformat()}
        self._ledger.append(caller.principal_id, "bundles.trust",
                            f"root:{root.signed.version}", "success", details)
        store.pin_root(self._engine, data, root.signed.version, self._clock().timestamp())
        return root.signed.version

    def import_bundle(self, archive: Path, caller: Caller,
                      progress: Progress | None = None) -> ImportResult:
        """Verify ``archive`` completely, then activate it or hold it for approval."""
        self._policy.require(caller, "bundles.import", Resource("Bundle", archive.name))
        trust = store.load_trust(self._engine)
        if trust is None:
            reason = "no trusted root is pinned; run `sovra bundle trust ROOT.json` first"
            self._ledger.append(caller.principal_id, "bundles.import", f"bundle:{archive.name}",
                                "failure", {"reason": reason})
            raise BundleVerificationError(reason)
        staged = self._stage(archive, trust, caller, progress)
        bundle_id = secrets.token_hex(8)
        two_person = self._settings.bundle_two_person
        try:
            self._ledger.append(caller.principal_id, "bundles.import", f"bundle:{bundle_id}",
                                "success", _details(staged.metadata, archive, {
                                    "state": "awaiting_approval" if two_person
                                    else "activating"}))
        except BaseException:
            discard(staged.folder)
            raise
        if two_person:
            return self._hold(bundle_id, staged, caller)
        return self._activate(bundle_id, staged, trust, caller.principal_id, acting=caller,
                              approver=None)

    def approve(self, bundle_id: str, caller: Caller) -> ImportResult:
        """Second person of a two-person import: verify again, then activate."""
        pending = self._second_person(bundle_id, caller, "bundles.approve")
        trust = store.load_trust(self._engine)
        if trust is None:  # pragma: no cover - a pending bundle implies a pinned root
            raise BundleVerificationError("no trusted root is pinned")
        folder = Path(str(pending.staging_path))
        try:
            metadata = self._reverify(pending, trust)
            recheck_staged(folder, metadata.targets)
        except BundleVerificationError as exc:
            # It can never become valid again (versions only grow): drop it.
            self._ledger.append(caller.principal_id, "bundles.approve", f"bundle:{bundle_id}",
                                "failure", {"importer": pending.importer, "reason": str(exc)})
            store.mark_rejected(self._engine, bundle_id, caller.principal_id)
            discard(folder)
            raise
        self._ledger.append(caller.principal_id, "bundles.approve", f"bundle:{bundle_id}",
                            "success", {"importer": pending.importer,
                                        **_hashes(metadata)})
        staged = StagedBundle(folder, metadata, sum(t.length for t in metadata.targets.values()))
        return self._activate(bundle_id, staged, trust, pending.importer, acting=caller,
                              approver=caller.principal_id)

    def reject(self, bundle_id: str, caller: Caller, reason: str = "") -> None:
        """Second person of a two-person import says no: nothing is activated, staging goes."""
        pending = self._second_person(bundle_id, caller, "bundles.reject")
        self._ledger.append(caller.principal_id, "bundles.reject", f"bundle:{bundle_id}",
                            "success", {"importer": pending.importer, "reason": reason})
        store.mark_rejected(self._engine, bundle_id, caller.principal_id)
        discard(Path(str(pending.staging_path)))

    def _second_person(self, bundle_id: str, caller: Caller,
                       action: str) -> store.PendingBundle:
        pending = store.pending_bundle(self._engine, bundle_id)
        if pending.status != "awaiting_approval" or pending.staging_path is None:
            raise ConflictError(f"bundle {bundle_id} is {pending.status}, not awaiting approval")
        resource = Resource("Bundle", bundle_id, {"requester": pending.importer})
        self._policy.require(caller, "bundles.approve", resource,
                             {"requester": pending.importer})
        if caller.principal_id == pending.importer or APPROVER_ROLE not in caller.roles:
            # Segregation of duties holds even if a policy change removed its rule.
            self._ledger.append(caller.principal_id, action, f"bundle:{bundle_id}",
                                "denied", {"importer": pending.importer})
            raise PermissionDeniedError(
                "a two-person import needs an approver who is not the importer",
                ("two-person import (built in)",))
        return pending

    def status(self) -> TransferStatus:
        """Trust state, each component's newest version and age, and the patch lag."""
        return transfer_status(self._engine, self._clock())

    def activated_models(self) -> list[ActivatedModel]:
        """Models delivered by bundles, with verified hashes (for the AI registry)."""
        return activated_models(self._engine)

    # -- steps ---------------------------------------------------------------------------

    def _stage(self, archive: Path, trust: TrustState, caller: Caller,
               progress: Progress | None) -> StagedBundle:
        staging_root = self._settings.data_dir / "transfer" / "staging"
        seen: dict[str, str] = {}
        try:
            staged = stage_bundle(archive, staging_root, trust, now=self._clock(),
                                  grace=self.grace, limits=self.limits, progress=progress,
                                  observed=seen)
            try:
                _check_policy_packs(staged)
            except BaseException:
                discard(staged.folder)
                raise
        except TransferError as exc:
            self._ledger.append(caller.principal_id, "bundles.import",
                                f"bundle:{archive.name}", "failure",
                                {"reason": str(exc), "error": type(exc).__name__,
                                 "grace_allowed_s": self.grace.total_seconds(),
                                 **_observed(seen)})
            raise
        return staged

    def _hold(self, bundle_id: str, staged: StagedBundle, caller: Caller) -> ImportResult:
        try:
            with self._engine.begin() as conn:
                store.insert_bundle(conn, bundle_id, "awaiting_approval", caller.principal_id,
                                    verified=staged.metadata, bodies=_bodies(staged),
                                    now=self._clock().timestamp(),
                                    staging_path=str(staged.folder))
        except SQLAlchemyError as exc:
            discard(staged.folder)
            raise StorageError(f"cannot record bundle {bundle_id}: {exc}") from exc
        records = tuple(
            TargetRecord(t.path, t.kind, t.component, t.version, t.sha256, t.length,
                         staged.folder / "targets" / t.path, "staged", t.custom)
            for t in staged.metadata.targets.values())
        return _result(bundle_id, "awaiting_approval", staged, records)

    def _activate(self, bundle_id: str, staged: StagedBundle, trust: TrustState,
                  importer: str, *, acting: Caller, approver: str | None) -> ImportResult:
        # ``acting`` is whoever makes it happen: the importer, or the approver of a
        # two-person import; policy packs are proposed in their name.
        actor = acting.principal_id
        details = {**_hashes(staged.metadata), "importer": importer, "approver": approver}
        try:
            self._screen_payloads(staged, actor, bundle_id)
        except BaseException as exc:
            discard(staged.folder)
            self._ledger.append(actor, "bundles.activate", f"bundle:{bundle_id}", "failure",
                                {**details, "error": type(exc).__name__, "reason": str(exc)})
            raise
        try:
            self._ledger.append(actor, "bundles.activate", f"bundle:{bundle_id}", "success",
                                details)
        except BaseException:
            discard(staged.folder)
            raise
        placed: list[Placement] = []
        try:
            # One activation at a time in this process: two copies of the same bundle
            # must not both move the same content-addressed file.
            with self._activation_lock:
                placed = place_targets(staged.folder, self._settings.data_dir,
                                       staged.metadata.targets)
                self._commit(bundle_id, staged, trust, importer=importer,
                             approver=approver, placed=placed)
        except BaseException as exc:
            undo(placed)
            discard(staged.folder)
            self._ledger.append(actor, "bundles.activate", f"bundle:{bundle_id}", "failure",
                                {**details, "error": type(exc).__name__, "reason": str(exc)})
            raise
        discard(staged.folder)
        records = tuple(self._propose_policies(p.record, acting) for p in placed)
        return _result(bundle_id, "activated", staged, records)

    def _screen_payloads(self, staged: StagedBundle, actor: str, bundle_id: str) -> None:
        if self._screen is None:
            return
        for target in staged.metadata.targets.values():
            if target.kind == "yara":  # YARA rules hold the very strings they detect
                continue
            self._screen(actor, f"bundle:{bundle_id}", target.path,
                         staged.folder / TARGETS_DIR / target.path, target.sha256)

    def _commit(self, bundle_id: str, staged: StagedBundle, trust: TrustState, *,
                importer: str, approver: str | None, placed: list[Placement]) -> None:
        now = self._clock().timestamp()
        bodies = _bodies(staged)
        try:
            with self._engine.begin() as conn:
                store.advance_trust(conn, trust, staged.metadata, bodies, now)
                if approver is None:
                    store.insert_bundle(conn, bundle_id, "activated", importer,
                                        verified=staged.metadata, bodies=bodies, now=now,
                                        staging_path=None)
                store.mark_activated(conn, bundle_id, approver, now)
                store.insert_targets(conn, bundle_id, [p.record for p in placed], now)
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot activate bundle {bundle_id}: {exc}") from exc

    def _propose_policies(self, record: TargetRecord, caller: Caller) -> TargetRecord:
        """A verified policy pack becomes a proposal; an approver activates it later."""
        if record.kind != "policy":
            return record
        text = record.stored_path.read_text(encoding="utf-8")
        try:
            version = self._policy.propose(caller, text, comment=f"from bundle target "
                                           f"{record.path} ({record.sha256[:12]})",
                                           source=record.path)
        except ConflictError:
            state = "identical_to_active"
        else:
            state = f"proposed:v{version.version}"
        store.set_target_state(self._engine, record.path, record.sha256, state)
        return _with_state(record, state)

    def _reverify(self, pending: store.PendingBundle, trust: TrustState) -> VerifiedMetadata:
        raw = pending.metadata
        bundle = BundleMetadata({int(v): b.encode() for v, b in raw["roots"].items()},
                                raw["timestamp"].encode(), raw["snapshot"].encode(),
                                raw["targets"].encode())
        return verify_metadata(bundle, trust, self._clock(),
                               timedelta(seconds=pending.grace_s))

def _check_policy_packs(staged: StagedBundle) -> None:
    """Policy packs must be valid Cedar for our schema before the bundle counts as verified."""
    for target in staged.metadata.targets.values():
        if target.kind != "policy":
            continue
        text = (staged.folder / "targets" / target.path).read_text(encoding="utf-8")
        try:
            CompiledPolicies(text, source=target.path)
        except PolicyValidationError as exc:
            raise BundleVerificationError(
                f"policy pack {target.path} does not validate: {exc}") from exc


def _with_state(record: TargetRecord, state: str) -> TargetRecord:
    return TargetRecord(record.path, record.kind, record.component, record.version,
                        record.sha256, record.length, record.stored_path, state, record.custom)


def _bodies(staged: StagedBundle) -> dict[str, bytes]:
    folder = staged.folder / "metadata"
    return {role: (folder / f"{role}.json").read_bytes()
            for role in ("timestamp", "snapshot", "targets")}


def _hashes(metadata: VerifiedMetadata) -> dict[str, object]:
    return {f"{role}_sha256": digest for role, digest in metadata.sha256.items()} | {
        f"{role}_version": version for role, version in metadata.versions.items()}


def _details(metadata: VerifiedMetadata, archive: Path,
             extra: Mapping[str, object]) -> dict[str, object]:
    return {**_hashes(metadata), "archive": archive.name,
            "grace_allowed_s": metadata.grace_allowed_s,
            "grace_needed_s": metadata.grace_needed_s,
            "targets": sorted(metadata.targets), **extra}


def _observed(seen: Mapping[str, str]) -> dict[str, object]:
    return {f"{role}_sha256": digest for role, digest in seen.items()}


def _result(bundle_id: str, state: str, staged: StagedBundle,
            records: tuple[TargetRecord, ...]) -> ImportResult:
    md = staged.metadata
    return ImportResult(bundle_id, "activated" if state == "activated" else "awaiting_approval",
                        dict(md.versions), dict(md.sha256), md.grace_allowed_s,
                        md.grace_needed_s, md.checks, records, staged.bytes_verified)



