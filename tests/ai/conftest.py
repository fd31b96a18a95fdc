"""Fixtures for the gateway tests: an unsealed instance, callers, a FakeUpstream model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sovra.ai.demo import load_demo
from sovra.ai.models import ModelSpec
from sovra.data.embed import Embedder
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.keys import start_for_up
from tests.e2e.fake_upstream import FakeUpstream, running_fake_upstream

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret")
APPROVER = Caller("bob", "user", frozenset({"approver"}), "secret")
ANALYST = Caller("carol", "user", frozenset({"analyst"}), "internal")


@pytest.fixture(scope="session")
def fake_upstream() -> Iterator[FakeUpstream]:
    with running_fake_upstream() as fake:
        yield fake


@pytest.fixture
def unsealed(instance: Instance) -> Instance:
    start_for_up(instance.keys)  # development-mode ceremony: unsealed, as `sovra up` does
    return instance


def upstream_spec(port: int, model_id: str = "fake-instant", ceiling: str = "secret"
                  ) -> ModelSpec:
    return ModelSpec(model_id=model_id, kind="chat", locality="on_premises", sha256="ab" * 32,
                     source="FakeUpstream on loopback", licence="test-only", ceiling=ceiling,
                     upstream_url=f"http://127.0.0.1:{port}/v1")


def approved_upstream(instance: Instance, port: int, model_id: str = "fake-instant",
                      ceiling: str = "secret") -> None:
    registry = instance.ai.registry
    registry.register(ADMIN, upstream_spec(port, model_id, ceiling))
    registry.approve(APPROVER, model_id)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """One loaded embedding model for the session (loading costs about a second)."""
    return Embedder()


@pytest.fixture
def demo_loaded(unsealed: Instance, embedder: Embedder) -> Instance:
    unsealed.data.use_embedder(embedder)
    unsealed.identity.create_principal("system", "alice", roles=["admin"],
                                       clearance="secret")
    summary = load_demo(unsealed.data, ADMIN)
    assert summary.count("ingested") == 3
    return unsealed
