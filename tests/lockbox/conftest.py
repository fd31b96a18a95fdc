"""Lockbox fixtures: an unsealed instance on both profiles with two collections, callers,
and a lockbox service on an injected clock (the one the instance wires uses real time)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from sovra.data.values import CollectionSpec
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.keys import Share
from sovra.lockbox.resolvers import instance_resolvers
from sovra.lockbox.service import LockboxService
from sovra.lockbox.store import RequestStore
from sovra.policy import Classification
from tests.support.clock import TEST_NOW

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret", jurisdiction="EU")
OPERATOR = Caller("otto", "user", frozenset({"operator"}), "secret", jurisdiction="EU")
APPROVER_1 = Caller("ann", "user", frozenset({"approver"}), "secret", jurisdiction="EU")
APPROVER_2 = Caller("abe", "user", frozenset({"approver"}), "secret", jurisdiction="EU")
APPROVER_3 = Caller("ada", "user", frozenset({"approver"}), "secret", jurisdiction="EU")
APPROVER_US = Caller("sam", "user", frozenset({"approver"}), "secret", jurisdiction="US")
# Holds both roles: may ask, may approve others, never its own.
ANALYST_APPROVER = Caller("ivy", "user", frozenset({"analyst", "approver"}), "secret",
                          jurisdiction="EU")
BREAKER = Caller("bree", "user", frozenset({"breakglass"}), "secret", jurisdiction="EU")


@dataclass
class Clock:
    """The injected clock: starts at the session's test time, moves only when told."""

    now: float

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock(TEST_NOW.timestamp())


def spec(collection_id: str, ceiling: Classification) -> CollectionSpec:
    return CollectionSpec(
        id=collection_id, owner="Treasury", purpose="payments", subject_categories=("clients",),
        data_categories=("bank details",), retention_days=365, jurisdiction="EU",
        ceiling=ceiling)


@pytest.fixture
def unsealed(instance: Instance) -> Instance:
    """The instance with its keys initialised and two collections: secret and internal."""
    dealt: list[Share] = []
    instance.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="test-operator")
    instance.data.create_collection(ADMIN, spec("vault", Classification.SECRET))
    instance.data.create_collection(ADMIN, spec("notes", Classification.INTERNAL))
    return instance


def make_box(inst: Instance, clock: Clock) -> LockboxService:
    """A lockbox service on ``clock``, installed as the policy's grant source.

    A second one over the same database stands for another process (the CLI)."""
    box = LockboxService(RequestStore(inst.engine), inst.ledger, inst.policy,
                         instance_resolvers(inst.data, inst.keys), clock=clock)
    inst.policy.use_grants(box)
    return box


@pytest.fixture
def box(unsealed: Instance, clock: Clock) -> Iterator[LockboxService]:
    yield make_box(unsealed, clock)
