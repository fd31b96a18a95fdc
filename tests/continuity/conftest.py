"""Continuity fixtures: a real embedded instance with a dealt ceremony, data and files."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sovra.config import Settings, load_settings
from sovra.data.embed import Embedder
from sovra.data.values import CollectionSpec
from sovra.identity import Caller
from sovra.instance import Instance, open_instance
from sovra.keys import Share
from sovra.policy import Classification

ADMIN = Caller("alice", "user", frozenset({"admin"}), "secret")
DOCUMENTS = {
    "leave.txt": b"Staff receive twenty-five days of annual leave each calendar year.",
    "travel.txt": b"Travel expenses are reimbursed within thirty days of the claim.",
}
POLICY_PACK = b"permit(principal, action, resource) when { false };\n"
WEIGHTS = b"GGUF fake weights for the by-reference test" * 100


@dataclass
class Source:
    """A running instance to back up, the custodians' shares, and what it holds."""

    instance: Instance
    shares: list[Share]
    settings: Settings

    @property
    def share_texts(self) -> list[str]:
        return [s.token() for s in self.shares]


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


def make_source(data_dir: Path, embedder: Embedder, *, documents: bool = True,
                database_url: str | None = None) -> Source:
    settings = load_settings(data_dir=data_dir, database_url=database_url,
                             checkpoint_interval_s=0.0)
    inst = open_instance(settings)
    dealt: list[Share] = []
    inst.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="test-operator")
    if documents:
        inst.data.use_embedder(embedder)
        inst.data.create_collection(ADMIN, CollectionSpec(
            id="hr", owner="HR", purpose="policies", subject_categories=("employees",),
            data_categories=("contact",), retention_days=365, jurisdiction="EU-ES",
            ceiling=Classification.SECRET))
        for name, body in DOCUMENTS.items():
            inst.data.ingest(ADMIN, "hr", name, body)
    packs = data_dir / "transfer" / "policies" / ("ab" * 32)
    packs.mkdir(parents=True)
    (packs / "pack.cedar").write_bytes(POLICY_PACK)
    weights = data_dir / "transfer" / "models" / ("cd" * 32)
    weights.mkdir(parents=True)
    (weights / "model.gguf").write_bytes(WEIGHTS)
    return Source(inst, dealt, settings)


@pytest.fixture
def source(tmp_path: Path, embedder: Embedder) -> Iterator[Source]:
    made = make_source(tmp_path / "data", embedder)
    try:
        yield made
    finally:
        made.instance.close()
