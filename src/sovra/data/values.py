"""Domain values of the data layer (frozen; what services return and edges render)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sovra.errors import InvalidInputError
from sovra.vocabulary import Classification

_COLLECTION_ID = re.compile(r"[a-z0-9][a-z0-9_.\-]{0,63}")


@dataclass(frozen=True)
class CollectionSpec:
    """What GDPR Art. 30(1) asks a record of processing to say, plus where and how high.

    owner: the controller's accountable person or unit (Art. 30(1)(a));
    purpose: the purposes of the processing (Art. 30(1)(b));
    subject_categories / data_categories: categories of data subjects and of personal
    data (Art. 30(1)(c)); retention_days: the time limit for erasure (Art. 30(1)(f));
    jurisdiction: where the data must reside; ceiling: the highest classification the
    collection may hold.
    """

    id: str
    owner: str
    purpose: str
    subject_categories: tuple[str, ...]
    data_categories: tuple[str, ...]
    retention_days: int
    jurisdiction: str
    ceiling: Classification

    def validate(self) -> None:
        if not _COLLECTION_ID.fullmatch(self.id):
            raise InvalidInputError("collection id: 1-64 characters a-z, 0-9, '_', '.', '-', "
                                    "starting with a letter or digit")
        for name in ("owner", "purpose", "jurisdiction"):
            if not getattr(self, name).strip():
                raise InvalidInputError(f"{name} is required (GDPR Art. 30 record)")
        if not self.subject_categories or not self.data_categories:
            raise InvalidInputError("categories of data subjects and of data are required "
                                    "(GDPR Art. 30(1)(c))")
        if not 1 <= self.retention_days <= 36_500:
            raise InvalidInputError("retention_days must be 1..36500 (GDPR Art. 30(1)(f))")


@dataclass(frozen=True)
class Collection:
    spec: CollectionSpec
    keyring_id: str
    created_at: float
    created_by: str
    legal_hold: bool = False

    @property
    def id(self) -> str:
        return self.spec.id


@dataclass(frozen=True)
class IngestResult:
    """The outcome for one file: ``ingested``, ``unchanged`` or ``failed`` (with error)."""

    name: str
    status: str
    document_id: str | None = None
    version: int | None = None
    classification: Classification | None = None
    chunks: int = 0
    size_bytes: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    error_type: str | None = None


@dataclass(frozen=True)
class IngestSummary:
    results: tuple[IngestResult, ...]

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def failed(self) -> tuple[IngestResult, ...]:
        return tuple(r for r in self.results if r.status == "failed")


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    collection_id: str
    version: int
    kind: str
    size_bytes: int
    classification: Classification
    findings: dict[str, int]
    chunk_count: int
    created_at: float
    content_mac: str


@dataclass(frozen=True)
class RetrievedChunk:
    """One retrieval hit, with what a citation needs."""

    document_id: str
    version: int
    chunk_index: int
    start: int
    end: int
    page: int | None
    score: float
    text: str
    classification: Classification
    collection_id: str


@dataclass(frozen=True)
class Hold:
    id: int
    collection_id: str
    document_id: str | None
    reason: str
    set_by: str
    set_at: float
    released_at: float | None = None


@dataclass(frozen=True)
class RetentionReport:
    deleted: tuple[str, ...]
    held: tuple[str, ...]
    certificate_ids: tuple[str, ...] = ()


__all__ = ["Collection", "CollectionSpec", "DocumentInfo", "Hold", "IngestResult",
           "IngestSummary", "RetentionReport", "RetrievedChunk"]
