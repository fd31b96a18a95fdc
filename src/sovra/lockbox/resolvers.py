"""How the lockbox learns about other rooms' resources, without importing those rooms.

The instance passes its data and key services; the lockbox only calls the three lookups
below (by duck type), so ``sovra.lockbox`` never imports ``sovra.data`` or ``sovra.keys``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sovra.errors import NotFoundError


@dataclass(frozen=True)
class Resolvers:
    """What the lockbox needs to know about other rooms' resources (wired by the instance).

    ``collection_level``: a collection's ceiling level, None if unknown;
    ``document_place``: a document's (collection, level), None if unknown;
    ``keyring_exists``: whether a keyring exists.
    """

    collection_level: Callable[[str], int | None]
    document_place: Callable[[str], tuple[str, int] | None]
    keyring_exists: Callable[[str], bool]


class _Spec(Protocol):
    @property
    def ceiling(self) -> int: ...


class _Collection(Protocol):
    @property
    def spec(self) -> _Spec: ...


class _Document(Protocol):
    @property
    def collection_id(self) -> str: ...

    @property
    def classification(self) -> int: ...


class DataLookups(Protocol):
    def get_collection(self, collection_id: str) -> _Collection: ...

    def document_info(self, document_id: str) -> _Document: ...


class KeyLookups(Protocol):
    def keyring(self, keyring_id: str) -> object: ...


def instance_resolvers(data: DataLookups, keys: KeyLookups) -> Resolvers:
    """Resolvers over the instance's data and key services (unknown ids resolve to None)."""

    def collection_level(collection_id: str) -> int | None:
        try:
            return int(data.get_collection(collection_id).spec.ceiling)
        except NotFoundError:
            return None

    def document_place(document_id: str) -> tuple[str, int] | None:
        try:
            info = data.document_info(document_id)
        except NotFoundError:
            return None
        return info.collection_id, int(info.classification)

    def keyring_exists(keyring_id: str) -> bool:
        try:
            keys.keyring(keyring_id)
        except NotFoundError:
            return False
        return True

    return Resolvers(collection_level, document_place, keyring_exists)


__all__ = ["DataLookups", "KeyLookups", "Resolvers", "instance_resolvers"]
