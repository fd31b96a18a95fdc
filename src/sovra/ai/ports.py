"""What the gateway uses from the other rooms, stated as the narrow shapes it needs.

``sovra.ai.adapters`` binds these to the real ledger, keys, policy and data services in
``open_instance``; the gateway itself depends only on these shapes, so each room can
evolve behind its adapter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from sovra.ai.models import Assessment, RetrievedChunk


class Principal(Protocol):
    """The authenticated caller (``sovra.api.auth.Caller`` satisfies this)."""

    @property
    def principal_id(self) -> str: ...

    @property
    def clearance(self) -> str: ...


class Recorded(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def leaf_hash(self) -> bytes: ...


class EntryLike(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def leaf_hash(self) -> bytes: ...

    @property
    def body(self) -> bytes: ...


# (actor, action, resource, outcome, details): the arguments of a ledger append.
EntryFields = tuple[str, str, str, str, Mapping[str, object] | None]


class DeferredEntry(Protocol):
    """A decided but not yet recorded ledger entry (the auth dependency's policy
    decision), handed to the gateway to commit in one batch with the request's own
    first entry (ADR 0605). ``take`` gives its fields once, then None."""

    def take(self) -> EntryFields | None: ...


class LedgerPort(Protocol):
    """The slice of ``sovra.ledger.Ledger`` the AI room uses."""

    def append(self, actor: str, action: str, resource: str, outcome: str,
               details: Mapping[str, object] | None = None) -> Recorded: ...

    async def append_async(self, actor: str, action: str, resource: str, outcome: str,
                           details: Mapping[str, object] | None = None) -> Recorded: ...

    async def append_many_async(self, records: Sequence[EntryFields]
                                ) -> Sequence[Recorded]: ...

    @property
    def size(self) -> int: ...

    def root(self, size: int | None = None) -> bytes: ...

    def entry(self, seq: int) -> EntryLike: ...

    def inclusion_proof(self, seq: int, tree_size: int | None = None) -> list[bytes]: ...


class PolicyPort(Protocol):
    def require(self, caller: Principal, action: str, resource_type: str, resource_id: str,
                attributes: Mapping[str, object]) -> None:
        """Raise ``PermissionDeniedError`` unless policy allows."""
        ...

    async def require_async(self, caller: Principal, action: str, resource_type: str,
                            resource_id: str, attributes: Mapping[str, object]) -> None:
        """``require`` for a coroutine: the durable record of the decision is written
        without blocking the event loop."""
        ...


class KeysPort(Protocol):
    def encrypt(self, keyring_id: str, object_id: str, plaintext: bytes) -> bytes: ...

    def decrypt(self, keyring_id: str, object_id: str, blob: bytes) -> bytes: ...

    def is_sealed(self) -> bool: ...


class ClassifierPort(Protocol):
    def classify(self, text: str) -> Assessment: ...


class RetrieverPort(Protocol):
    def retrieve(self, caller: Principal, collections: Sequence[str], query: str,
                 top_k: int) -> list[RetrievedChunk]:
        """Chunks the caller may read, best first (permission-filtered by the data layer)."""
        ...


class EmbedderPort(Protocol):
    @property
    def model_id(self) -> str: ...

    def embed(self, texts: Sequence[str]) -> list[list[float]]: ...
