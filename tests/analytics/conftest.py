"""Analytics fixtures: an unsealed instance (both profiles) with a tabular HR collection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sovra.data.embed import Embedder
from sovra.data.values import CollectionSpec
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.keys import Share
from sovra.policy import Classification

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret")
ANALYST = Caller("bob", "user", frozenset({"analyst"}), "internal")
CLEARED = Caller("carla", "user", frozenset({"analyst"}), "confidential")
OUTSIDER = Caller("eve", "user", frozenset(), "secret")

# Valid IBANs (checksums pass), e-mail addresses, and a declared-public salary column.
STAFF_CSV = (
    b"name,email,iban,salary,dept\n"
    b"Anna Keller,anna.keller@example.com,DE89370400440532013000,52000,sales\n"
    b"Ben Ortiz,ben.ortiz@example.com,GB82WEST12345698765432,61000,sales\n"
    b"Chloe Dubois,chloe.dubois@example.com,FR1420041010050500013M02606,58000,ops\n"
)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


def spec(collection_id: str = "hr") -> CollectionSpec:
    return CollectionSpec(
        id=collection_id, owner="HR", purpose="workforce analytics",
        subject_categories=("employees",), data_categories=("contact", "bank details"),
        retention_days=365, jurisdiction="EU-DE", ceiling=Classification.SECRET)


@pytest.fixture
def hr(instance: Instance, embedder: Embedder) -> Iterator[Instance]:
    """The instance unsealed, with collection ``hr`` holding ``staff.csv``."""
    dealt: list[Share] = []
    instance.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="test-operator")
    instance.data.use_embedder(embedder)
    instance.data.create_collection(ADMIN, spec())
    result = instance.data.ingest(ADMIN, "hr", "staff.csv", STAFF_CSV)
    assert result.status == "ingested", result
    yield instance
