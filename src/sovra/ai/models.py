"""Domain values of the AI room: registered models, chat turns, citations, usage."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Locality = Literal["in_process", "on_premises", "external"]
ModelKind = Literal["chat", "embedding"]
LOCALITIES: tuple[Locality, ...] = ("in_process", "on_premises", "external")
KINDS: tuple[ModelKind, ...] = ("chat", "embedding")


@dataclass(frozen=True)
class ModelSpec:
    """What a registrant states about a model; the registry adds who and when."""

    model_id: str
    kind: ModelKind
    locality: Locality
    sha256: str
    source: str
    licence: str
    ceiling: str
    weights_path: str | None = None
    upstream_url: str | None = None
    upstream_model: str | None = None


@dataclass(frozen=True)
class ModelRecord:
    spec: ModelSpec
    approved: bool
    registered_by: str
    approved_by: str | None
    created_at: float

    @property
    def model_id(self) -> str:
        return self.spec.model_id


@dataclass(frozen=True)
class ChatMessage:
    role: str
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_tokens: int = 256
    temperature: float = 0.7
    top_p: float = 1.0
    stop: tuple[str, ...] = ()
    seed: int | None = None


@dataclass(frozen=True)
class Delta:
    """One piece of a streamed answer (text) or its end (finish_reason set)."""

    text: str = ""
    finish_reason: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class Citation:
    """Where a retrieved passage came from (spec: document id, version, chunk position)."""

    collection: str
    document_id: str
    version: int
    chunk_position: int
    chunk_id: str
    classification: str


@dataclass(frozen=True)
class RetrievedChunk:
    citation: Citation
    text: str
    score: float = 0.0


@dataclass(frozen=True)
class Span:
    """A finding of the data layer's detectors: ``text[start:end]`` is personal data."""

    start: int
    end: int
    kind: str
    level: str


@dataclass(frozen=True)
class Assessment:
    """The classification of one text with the spans that raised it."""

    level: str
    spans: tuple[Span, ...] = field(default_factory=tuple)
