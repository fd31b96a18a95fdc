"""OpenAI wire format: request schemas (pydantic, at the wire only) and response bodies.

Responses are built as plain dicts and serialised once: on the hot path that is cheaper
than validating a response model we construct ourselves. Field names follow the OpenAI
API reference (chat.completion, chat.completion.chunk, embedding list, model list).
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Sequence
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from sovra.ai.chat import ChatRequest, ChatResult, PreparedChat
from sovra.ai.compact_json import compact_json
from sovra.ai.models import ChatMessage, Citation, GenerationParams, ModelRecord
from sovra.ai.rag import cited
from sovra.ai.settings import AISettings
from sovra.errors import InvalidInputError


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str


class Message(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None


class SovraOptions(BaseModel):
    """Sovra's extra body field: ``extra_body={"sovra": {...}}`` in the openai client."""

    model_config = ConfigDict(extra="forbid")
    collections: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(
        default_factory=list, max_length=32)
    citations: bool = True
    top_k: int = Field(default=4, ge=1, le=50)


# What a request without ``sovra`` options gets; built once (only read, never changed).
_NO_OPTIONS = SovraOptions()


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    # Clients send fields we do not use (user, logprobs, ...); ignoring them is what
    # OpenAI-compatible servers do. Fields we use are validated strictly.
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=128)
    messages: list[Message] = Field(min_length=1, max_length=512)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float | None = Field(default=None, gt=0.0, le=1.0)
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int | None = Field(default=None, ge=1, le=1)
    sovra: SovraOptions | None = None

    def to_domain(self, settings: AISettings) -> ChatRequest:
        messages = tuple(ChatMessage(m.role if m.role != "developer" else "system",
                                     _text(m.content)) for m in self.messages)
        if not any(m.role == "user" for m in messages):
            raise InvalidInputError("messages must contain at least one user message")
        wanted = self.max_completion_tokens or self.max_tokens or settings.default_max_tokens
        if wanted > settings.max_tokens_limit:
            raise InvalidInputError(f"max_tokens {wanted} exceeds the limit "
                                    f"{settings.max_tokens_limit}")
        stop = (self.stop,) if isinstance(self.stop, str) else tuple(self.stop or ())
        params = GenerationParams(
            max_tokens=wanted, temperature=0.7 if self.temperature is None else self.temperature,
            top_p=1.0 if self.top_p is None else self.top_p, stop=stop[:4], seed=self.seed)
        options = self.sovra or _NO_OPTIONS
        return ChatRequest(self.model, messages, params, tuple(options.collections),
                           options.citations, options.top_k)


def _text(content: str | list[TextPart] | None) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    return "".join(part.text for part in content)


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(min_length=1, max_length=128)
    # Token-id arrays are accepted by the schema only to be refused with a message that
    # says what to do: they are ids of the client's tokenizer (tiktoken), not this
    # model's, and cannot be turned back into text here (issue 15).
    input: str | list[str] | list[int] | list[list[int]] = Field(min_length=1)
    # The openai client asks for base64 (little-endian float32) unless told otherwise.
    encoding_format: Literal["float", "base64"] | None = None
    dimensions: int | None = Field(default=None, ge=1, le=65536)

    def inputs(self) -> list[str]:
        items = [self.input] if isinstance(self.input, str) else self.input
        if not items or len(items) > 256:
            raise InvalidInputError("input must hold 1 to 256 strings")
        texts = [item for item in items if isinstance(item, str)]
        if len(texts) != len(items):
            raise InvalidInputError(
                "input holds token ids; Sovra embeds text, with the model's own tokenizer. "
                "Send strings: with LangChain's OpenAIEmbeddings pass "
                "check_embedding_ctx_length=False (it then sends the text itself)")
        return texts


# -- responses -----------------------------------------------------------------------------

def citations_body(citations: Sequence[Citation]) -> list[dict[str, object]]:
    return [{"collection": c.collection, "document_id": c.document_id, "version": c.version,
             "chunk_position": c.chunk_position, "chunk_id": c.chunk_id,
             "classification": c.classification} for c in citations]


def _sovra(prepared: PreparedChat, answer: str | None = None) -> dict[str, object]:
    # With the answer known, only the passages it used are cited (ADR 0610).
    citations = (prepared.citations if answer is None
                 else cited(prepared.citations, prepared.messages, answer))
    return {"request_id": prepared.request_id, "classification": prepared.classification,
            "weights_sha256": prepared.record.spec.sha256,
            "citations": citations_body(citations)}


def completion_body(prepared: PreparedChat, result: ChatResult) -> bytes:
    body = {
        "id": prepared.request_id, "object": "chat.completion", "created": prepared.created,
        "model": prepared.record.model_id,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text},
                     "finish_reason": _finish(result.finish_reason), "logprobs": None}],
        "usage": {"prompt_tokens": result.usage.prompt_tokens,
                  "completion_tokens": result.usage.completion_tokens,
                  "total_tokens": result.usage.total_tokens},
        "sovra": _sovra(prepared, result.text)}
    return compact_json(body)


def _finish(reason: str) -> str:
    return reason if reason in {"stop", "length", "content_filter"} else "stop"


def chunk_event(prepared: PreparedChat, delta: dict[str, object], finish: str | None,
                *, extra: dict[str, object] | None = None) -> bytes:
    """One server-sent event carrying a ``chat.completion.chunk``."""
    body: dict[str, object] = {
        "id": prepared.request_id, "object": "chat.completion.chunk",
        "created": prepared.created, "model": prepared.record.model_id,
        "choices": [{"index": 0, "delta": delta,
                     "finish_reason": _finish(finish) if finish else None, "logprobs": None}]}
    if extra:
        body.update(extra)
    return b"data: " + compact_json(body) + b"\n\n"


def usage_event(prepared: PreparedChat, prompt: int, completion: int) -> bytes:
    body = {"id": prepared.request_id, "object": "chat.completion.chunk",
            "created": prepared.created, "model": prepared.record.model_id, "choices": [],
            "usage": {"prompt_tokens": prompt, "completion_tokens": completion,
                      "total_tokens": prompt + completion}}
    return b"data: " + compact_json(body) + b"\n\n"


def sovra_extra(prepared: PreparedChat, answer: str | None = None) -> dict[str, object]:
    return {"sovra": _sovra(prepared, answer)}


def error_event(kind: str, message: str, status: int) -> bytes:
    body = {"error": {"message": message, "type": "api_error", "param": None, "code": kind,
                      "status": status}}
    return b"data: " + json.dumps(body).encode() + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"


def models_body(records: Sequence[ModelRecord]) -> dict[str, object]:
    return {"object": "list", "data": [
        {"id": r.model_id, "object": "model", "created": int(r.created_at),
         "owned_by": r.spec.source.split(":", 1)[0] if r.spec.source else "sovra",
         "sovra": {"kind": r.spec.kind, "locality": r.spec.locality, "ceiling": r.spec.ceiling,
                   "sha256": r.spec.sha256, "licence": r.spec.licence, "source": r.spec.source,
                   "approved": r.approved}}
        for r in records]}


def embeddings_body(model_id: str, vectors: Sequence[Sequence[float]], tokens: int, *,
                    encoding: str | None = None) -> dict[str, object]:
    def encoded(vector: Sequence[float]) -> object:
        if encoding == "base64":
            return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        return list(vector)

    return {"object": "list", "model": model_id,
            "data": [{"object": "embedding", "index": i, "embedding": encoded(v)}
                     for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}
