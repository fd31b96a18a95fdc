"""Fixtures for the transfer room: offline keys, a signing repository, a site.

The connected side (``Workshop``) and the site (``Site``) are the real code paths:
real Ed25519 keys, real python-tuf metadata, real tar archives, the real instance
(ledger, policy, identity) on SQLite and PostgreSQL. Only the clock is injected.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from securesystemslib.signer import CryptoSigner
from sqlalchemy import func, select

from sovra.identity import Caller
from sovra.instance import Instance
from sovra.store.tables.transfer import transfer_bundles, transfer_targets, transfer_trust
from sovra.transfer import (
    BundleSpec,
    TransferService,
    build_bundle,
    init_repository,
    keygen,
    load_public_key,
    load_signer,
)
from tests.support.clock import TEST_NOW

NOW = TEST_NOW  # the one test clock: the server under test agrees with it
POLICY_PACK = """// A pack carried by a bundle: auditors may read the ledger.
@id("bundle-auditors-read-ledger")
permit (principal in Role::"auditor", action == Action::"ledger.read", resource);
"""


@pytest.fixture(scope="session")
def key_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("keys")
    for name in "abcde":
        keygen(name, folder)
    return folder


@pytest.fixture(scope="session")
def signers(key_dir: Path) -> dict[str, CryptoSigner]:
    return {name: load_signer(key_dir / f"{name}.key") for name in "abcde"}


@dataclass
class Workshop:
    """The connected side: a repository with root v1 = keys a, b, c, threshold 2."""

    folder: Path
    repo: Path
    key_dir: Path
    signers: dict[str, CryptoSigner]
    counter: int = 0

    def public(self, *names: str) -> list[Any]:
        return [load_public_key(self.key_dir / f"{n}.pub.json") for n in names]

    def spec(self, *, model: bytes | None = None, extra: list[dict[str, Any]] | None = None,
             expires: dict[str, float] | None = None) -> BundleSpec:
        self.counter += 1
        src = self.folder / f"src{self.counter}"
        src.mkdir()
        (src / "tiny.gguf").write_bytes(model if model is not None else os.urandom(4096))
        (src / "pack.cedar").write_text(POLICY_PACK)
        (src / "feed.json").write_text('{"indicators": ["198.51.100.7"]}')
        (src / f"sovra-0.{self.counter}.0-py3-none-any.whl").write_bytes(os.urandom(2048))
        targets: list[dict[str, Any]] = [
            {"kind": "model", "path": src / "tiny.gguf", "component": "tiny-model",
             "version": f"1.{self.counter}",
             "manifest": {"source": "https://models.example/tiny", "licence": "Apache-2.0",
                          "intended_use": "tests"},
             "sbom": [{"name": "tokenizer", "version": "1.0", "licence": "MIT"}]},
            {"kind": "policy", "path": src / "pack.cedar", "component": "baseline",
             "version": str(self.counter)},
            {"kind": "threat-intel", "path": src / "feed.json", "component": "cert-feed",
             "version": f"2026.{self.counter}"},
            {"kind": "wheel", "path": src / f"sovra-0.{self.counter}.0-py3-none-any.whl",
             "component": "sovra", "version": f"0.{self.counter}.0"},
        ]
        targets += extra or []
        raw: dict[str, Any] = {"name": f"bundle-{self.counter}", "targets": targets}
        if expires:
            raw["expires"] = expires
        return BundleSpec.model_validate(raw)

    def build(self, spec: BundleSpec | None = None, *, keys: str = "ab",
              now: datetime = NOW, compress: bool = False) -> Path:
        spec = spec or self.spec()
        out = self.folder / f"{spec.name}.tar{'.gz' if compress else ''}"
        build_bundle(spec, self.repo, [self.signers[k] for k in keys], out, now,
                     compress=compress)
        return out


@pytest.fixture
def workshop(tmp_path: Path, key_dir: Path, signers: dict[str, CryptoSigner]) -> Workshop:
    shop = Workshop(tmp_path / "workshop", tmp_path / "workshop" / "repo", key_dir, signers)
    shop.folder.mkdir()
    init_repository(shop.repo, shop.public("a", "b", "c"), 2,
                    [signers["a"], signers["b"]], NOW - timedelta(days=1))
    return shop


@dataclass
class Clock:
    now: datetime = NOW

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Site:
    """A site with the workshop's root v1 pinned; ``admin`` imports, ``bob`` approves."""

    instance: Instance
    service: TransferService
    clock: Clock
    admin: Caller
    approver: Caller
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def data_dir(self) -> Path:
        return self.instance.settings.data_dir

    def with_settings(self, **changes: Any) -> TransferService:
        settings = self.instance.settings.model_copy(update=changes)
        self.service = TransferService(self.instance.engine, settings, self.instance.ledger,
                                       self.instance.policy, clock=self.clock)
        return self.service

    def count(self, table: Any) -> int:
        with self.instance.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def trust_versions(self) -> dict[str, int]:
        with self.instance.engine.connect() as conn:
            return {r.role: r.version for r in conn.execute(select(transfer_trust))}

    def ledger_actions(self) -> list[tuple[str, str]]:
        from sovra.store.tables.ledger import ledger_entries

        with self.instance.engine.connect() as conn:
            rows = conn.execute(select(ledger_entries.c.action, ledger_entries.c.body)
                                .order_by(ledger_entries.c.seq)).all()
        return [(r.action, bytes(r.body).decode()) for r in rows
                if r.action.startswith("bundles.")]

    def snapshot(self) -> tuple[object, ...]:
        """Everything an import can change: rows, trusted versions, activated files."""
        files = sorted(str(p.relative_to(self.data_dir))
                       for folder in (self.data_dir / "transfer", self.data_dir / "wheels")
                       if folder.exists() for p in folder.rglob("*")
                       if "staging" not in p.parts and "incoming" not in p.parts)
        return (self.count(transfer_targets), self.count(transfer_bundles),
                self.trust_versions(), files)

    def assert_nothing_activated(self, before: tuple[object, ...]) -> None:
        """The attack tests' postcondition: nothing new active, no staged file left."""
        assert self.snapshot() == before
        staging = self.data_dir / "transfer" / "staging"
        assert not staging.exists() or list(staging.iterdir()) == []

    def last_import_failure(self) -> dict[str, Any]:
        import json

        failures = [json.loads(body) for action, body in self.ledger_actions()
                    if action == "bundles.import" and '"outcome":"failure"' in body]
        assert failures, "the rejection was not recorded in the ledger"
        return dict(failures[-1])


@pytest.fixture
def site(instance: Instance, workshop: Workshop) -> Iterator[Site]:
    identity = instance.identity
    identity.create_principal("system", "alice", roles=["admin"], clearance="secret")
    identity.create_principal("system", "bob", roles=["approver"], clearance="secret")
    clock = Clock()
    service = TransferService(instance.engine, instance.settings, instance.ledger,
                              instance.policy, clock=clock)
    site = Site(instance, service, clock, identity.caller_for("alice"),
                identity.caller_for("bob"))
    service.trust_root((workshop.repo / "roots" / "1.root.json").read_bytes(), site.admin)
    yield site
