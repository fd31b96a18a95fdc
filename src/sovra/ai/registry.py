"""The model registry: which models exist, what they are approved for, who said so.

Issue 7, Models: every model has its weights' SHA-256, source, licence, the
classification ceiling it is approved for and a locality. Registering or approving is a
ledger entry and needs ``models.register`` / ``models.approve`` from policy. The ledger
entry is written first (record, then act); if the act fails the failure is recorded.
"""

from __future__ import annotations

import asyncio
import builtins
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from typing import Any

from sqlalchemy import Engine, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sovra.ai.events import Event, Outcome
from sovra.ai.levels import level_name
from sovra.ai.models import KINDS, LOCALITIES, ModelRecord, ModelSpec
from sovra.ai.ports import LedgerPort, PolicyPort, Principal
from sovra.errors import (
    ConflictError,
    InvalidInputError,
    ModelNotFoundError,
    PermissionDeniedError,
    StorageError,
)
from sovra.store import ChangeFeed
from sovra.store.tables.ai import ai_models
from sovra.transfer import ActivatedModel

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")
_SHA = re.compile(r"^[0-9a-f]{64}$")


def validate_spec(spec: ModelSpec) -> ModelSpec:
    """Normalise and check a spec; raise ``InvalidInputError`` naming the bad field."""
    if not _ID.match(spec.model_id):
        raise InvalidInputError(f"model id {spec.model_id!r} must match {_ID.pattern}")
    if spec.kind not in KINDS:
        raise InvalidInputError(f"kind must be one of {KINDS}")
    if spec.locality not in LOCALITIES:
        raise InvalidInputError(f"locality must be one of {LOCALITIES}")
    sha = spec.sha256.lower()
    if not _SHA.match(sha):
        raise InvalidInputError("sha256 must be 64 hex digits")
    if spec.locality == "in_process" and not spec.weights_path:
        raise InvalidInputError("an in-process model needs weights_path")
    if spec.locality != "in_process" and not spec.upstream_url:
        raise InvalidInputError("a served model needs upstream_url")
    return replace(spec, sha256=sha, ceiling=level_name(spec.ceiling))


def _record(row: Any) -> ModelRecord:
    spec = ModelSpec(model_id=row.model_id, kind=row.kind, locality=row.locality,
                     sha256=row.sha256, source=row.source, licence=row.licence,
                     ceiling=row.ceiling, weights_path=row.weights_path,
                     upstream_url=row.upstream_url, upstream_model=row.upstream_model)
    return ModelRecord(spec=spec, approved=bool(row.approved), registered_by=row.registered_by,
                       approved_by=row.approved_by, created_at=float(row.created_at))


class ModelRegistry:
    """Registry service. Reads are cached briefly: the gateway asks on every request."""

    def __init__(self, engine: Engine, ledger: LedgerPort, policy: PolicyPort | None, *,
                 clock: Callable[[], float] = time.time, cache_ttl_s: float = 2.0,
                 bundled: Callable[[], Sequence[ActivatedModel]] | None = None) -> None:
        self._engine = engine
        self._bundled = bundled
        self._ledger = ledger
        self._policy = policy
        self._clock = clock
        self._ttl = cache_ttl_s
        self._cache: dict[str, ModelRecord] = {}
        self._cache_at = -1e18
        self._feed: ChangeFeed | None = None  # other processes' changes (issue 22)

    # -- reads ---------------------------------------------------------------------------
    def _load_all(self) -> dict[str, ModelRecord]:
        now = time.monotonic()
        if now - self._cache_at > self._ttl:
            try:
                with self._engine.connect() as conn:
                    rows = conn.execute(select(ai_models)).all()
            except SQLAlchemyError as exc:
                raise StorageError(f"cannot read the model registry: {exc}") from exc
            self._cache = {row.model_id: _record(row) for row in rows}
            self._cache_at = now
        return self._cache

    def get(self, model_id: str) -> ModelRecord:
        found = self._load_all().get(model_id)
        if found is None:
            raise ModelNotFoundError(f"no model {model_id!r} is registered; see GET /v1/models")
        return found

    async def get_async(self, model_id: str) -> ModelRecord:
        """``get`` for a coroutine: from the cache while it is fresh, else re-read on a
        worker thread (a database read must not stall the event loop)."""
        if time.monotonic() - self._cache_at > self._ttl:
            return await asyncio.to_thread(self.get, model_id)
        found = self._cache.get(model_id)
        if found is None:
            raise ModelNotFoundError(f"no model {model_id!r} is registered; see GET /v1/models")
        return found

    def list(self, *, approved_only: bool = False) -> list[ModelRecord]:
        self.sync_bundled()
        records = sorted(self._load_all().values(), key=lambda r: r.model_id)
        return [r for r in records if r.approved or not approved_only]

    def _invalidate(self) -> None:
        self._drop_cache()
        if self._feed is not None:
            self._feed.publish("models")

    def _drop_cache(self) -> None:
        self._cache_at = -1e18

    def use_changes(self, feed: ChangeFeed) -> None:
        """Share registry changes with the other processes of the database (issue 22):
        a model approved or withdrawn elsewhere is seen here within a second."""
        self._feed = feed
        feed.subscribe("models", self._drop_cache)

    # -- writes --------------------------------------------------------------------------
    def _require(self, caller: Principal, action: str, spec: ModelSpec, *,
                 requester: str | None = None) -> None:
        if self._policy is None:
            raise StorageError("no policy engine is wired; refusing to change the registry")
        # Attributes of the Cedar ``Model`` entity (policy/schema.cedarschema); the
        # requester lets the segregation-of-duties policy stop self-approval.
        attributes: dict[str, object] = {"max_classification": spec.ceiling}
        if requester is not None:
            attributes["requester"] = requester
        self._policy.require(caller, action, "Model", spec.model_id, attributes)

    def register(self, caller: Principal, spec: ModelSpec) -> ModelRecord:
        """Register a model, unapproved: a different principal with the approver role
        approves it (segregation of duties, policy/default/30-changes.cedar)."""
        spec = validate_spec(spec)
        self._require(caller, "models.register", spec)
        return self._insert(caller.principal_id, spec, approved=False)

    def register_builtin(self, spec: ModelSpec) -> ModelRecord:
        """Register a model shipped with Sovra, once; the instance is the registrant."""
        spec = validate_spec(spec)
        existing = self._load_all().get(spec.model_id)
        if existing is not None and existing.spec.sha256 == spec.sha256:
            return existing
        if existing is not None:
            raise ConflictError(
                f"built-in model {spec.model_id} is registered with SHA-256 "
                f"{existing.spec.sha256} but the installed weights have {spec.sha256}")
        return self._insert("system:sovra", spec, approved=True)

    def _record(self, event: Event) -> None:
        """Append one of the registry's typed events (ADR 0609), before its change."""
        self._ledger.append(*event.fields())

    def _insert(self, actor: str, spec: ModelSpec, *, approved: bool) -> ModelRecord:
        resource = f"model/{spec.model_id}"
        self._record(Event(actor, "models.register", resource, Outcome.SUCCESS,
                           {**asdict(spec), "approved": approved}))
        record = ModelRecord(spec, approved, actor, actor if approved else None, self._clock())
        try:
            with self._engine.begin() as conn:
                conn.execute(insert(ai_models).values(
                    **asdict(spec), approved=approved, registered_by=actor,
                    approved_by=record.approved_by, created_at=record.created_at))
        except IntegrityError as exc:
            conflict = ConflictError(f"model {spec.model_id} is already registered")
            self._record(Event.failure(actor, "models.register", resource, conflict))
            raise conflict from exc
        except SQLAlchemyError as exc:
            failed = StorageError(f"cannot register model {spec.model_id}: {exc}")
            self._record(Event.failure(actor, "models.register", resource, failed))
            raise failed from exc
        finally:
            self._invalidate()
        return record

    def approve(self, caller: Principal, model_id: str, *, ceiling: str | None = None
                ) -> ModelRecord:
        """Approve a registered model, optionally for a different ceiling."""
        current = self.get(model_id)
        spec = replace(current.spec, ceiling=level_name(ceiling or current.spec.ceiling))
        resource = f"model/{model_id}"
        self._require(caller, "models.approve", spec, requester=current.registered_by)
        if caller.principal_id == current.registered_by:
            # Segregation of duties holds even if a policy pack without its rule is
            # active and whatever policy port is wired (issue 13).
            refused = PermissionDeniedError("the registrant of a model cannot approve it; "
                                            "another approver must",
                                            ("segregation-of-duties (built in)",))
            self._record(Event.failure(caller.principal_id, "models.approve", resource,
                                       refused, {"registered_by": current.registered_by}))
            raise refused
        self._record(Event(caller.principal_id, "models.approve", resource, Outcome.SUCCESS,
                           {"ceiling": spec.ceiling, "sha256": spec.sha256}))
        try:
            with self._engine.begin() as conn:
                conn.execute(update(ai_models).where(ai_models.c.model_id == model_id).values(
                    approved=True, approved_by=caller.principal_id, ceiling=spec.ceiling))
        except SQLAlchemyError as exc:
            failed = StorageError(f"cannot approve model {model_id}: {exc}")
            self._record(Event.failure(caller.principal_id, "models.approve", resource,
                                       failed))
            raise failed from exc
        finally:
            self._invalidate()
        return replace(current, spec=spec, approved=True, approved_by=caller.principal_id)

    # -- models delivered by signed bundles (sovra.transfer) ------------------------------
    def sync_bundled(self) -> builtins.list[ModelRecord]:
        """Register every model a verified bundle activated and the registry lacks.

        The bundle's verified SHA-256 and manifest become the registry entry; the model
        is registered, not approved: an approver still decides its ceiling (issue 6: "a
        model appears in the registry"; issue 7: approving is a separate, recorded act).
        """
        if self._bundled is None:
            return []
        known = self._load_all()
        added: builtins.list[ModelRecord] = []
        for model in self._bundled():
            spec = bundled_spec(model)
            if spec.model_id in known:
                continue
            try:
                added.append(self._insert(f"bundle:{model.bundle_id}", validate_spec(spec),
                                          approved=False))
            except ConflictError:
                continue  # another process registered it meanwhile
        return added


def bundled_spec(model: ActivatedModel) -> ModelSpec:
    manifest = model.manifest
    kind = manifest.get("kind", "chat")
    return ModelSpec(
        model_id=f"{model.component}@{model.version}",
        kind="embedding" if kind == "embedding" else "chat",
        locality="in_process", sha256=model.sha256,
        source=f"bundle {model.bundle_id}: {manifest.get('source', model.component)}",
        licence=manifest.get("licence") or manifest.get("license") or "see the bundle SBOM",
        ceiling=manifest.get("ceiling", "internal"), weights_path=str(model.path))
