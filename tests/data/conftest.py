"""Data-layer fixtures: an unsealed instance on both profiles, callers, one shared model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sovra.config import Settings
from sovra.data.embed import Embedder
from sovra.data.values import CollectionSpec
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.keys import Share
from sovra.policy import Classification
from tests.support.lockbox import lockbox_off

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret")
ANALYST = Caller("bob", "user", frozenset({"analyst"}), "internal")
OUTSIDER = Caller("eve", "user", frozenset(), "secret")


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The lockbox off, as in development mode: these tests are about the data room
    (tests/support/lockbox.py says why)."""
    return lockbox_off(settings)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture
def data(instance: Instance, embedder: Embedder) -> Iterator[Instance]:
    """``instance`` with its keys initialised (unsealed) and the shared model."""
    dealt: list[Share] = []
    instance.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="test-operator")
    instance.data.use_embedder(embedder)
    yield instance


def spec(collection_id: str = "hr", *, retention_days: int = 365,
         ceiling: Classification = Classification.SECRET) -> CollectionSpec:
    return CollectionSpec(
        id=collection_id, owner="HR department", purpose="employment contracts",
        subject_categories=("employees",), data_categories=("contact", "bank details"),
        retention_days=retention_days, jurisdiction="EU-ES", ceiling=ceiling)
