"""The governed AI gateway: one service that every chat and embedding request goes through.

Per request (issue 7, "Governance on every request"): admission (quotas, concurrency,
global load shedding) -> the model must be registered, approved and of the right kind
-> retrieval, permission-filtered by the data layer before anything reaches a model ->
effective classification = max(prompt, retrieved chunks) against the model's ceiling
(refuse, or redact where the setting says so) -> a ledger entry BEFORE the model sees
anything (record, then act) -> generation -> a ledger entry with the outcome, answer
hash, tokens and latency. If the ledger cannot record or the instance is sealed, no
answer is produced (fail closed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import secrets
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field

from sovra.ai import governance
from sovra.ai.backends.base import ChatBackend
from sovra.ai.backends.pool import BackendPool
from sovra.ai.levels import rank
from sovra.ai.limits import Limits
from sovra.ai.models import (
    Assessment,
    ChatMessage,
    Citation,
    Delta,
    GenerationParams,
    ModelRecord,
    RetrievedChunk,
    Usage,
)
from sovra.ai.ports import (
    ClassifierPort,
    DeferredEntry,
    EmbedderPort,
    EntryFields,
    KeysPort,
    LedgerPort,
    PolicyPort,
    Principal,
    Recorded,
    RetrieverPort,
)
from sovra.ai.rag import question_of, with_context
from sovra.ai.registry import ModelRegistry
from sovra.ai.request_index import IndexRow, RequestIndex
from sovra.ai.settings import AISettings
from sovra.ai.text_policy import TextPolicies
from sovra.ai.trace import Trace, lineage, policy_authorizer
from sovra.errors import (
    ClassificationRefusedError,
    InvalidInputError,
    LedgerUnavailableError,
    ModelNotFoundError,
    OverloadedError,
    PermissionDeniedError,
    QuotaExceededError,
    SealedError,
    SovraError,
)

# Text kept for a collection is encrypted under this keyring (instance.keys).
TEXT_KEYRING = "ai-requests"
_INLINE_CLASSIFY_CHARS = 4096  # below this, classifying costs less than a thread hop


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: tuple[ChatMessage, ...]
    params: GenerationParams
    collections: tuple[str, ...] = ()
    citations: bool = True
    top_k: int = 4


@dataclass(frozen=True)
class PreparedChat:
    """A request that passed governance and is recorded; the model may now run."""

    request_id: str
    principal_id: str
    record: ModelRecord
    backend: ChatBackend
    messages: tuple[ChatMessage, ...]
    params: GenerationParams
    citations: tuple[Citation, ...]
    classification: str
    request_seq: int
    started: float
    created: int
    keep_text: bool
    prompt_text: str = field(repr=False)


@dataclass(frozen=True)
class ChatResult:
    text: str
    finish_reason: str
    usage: Usage


# Request ids: a random per-process prefix and a counter. Unique across restarts and
# processes, and much cheaper than a fresh urandom read per request on the hot path
# (ids name requests in the ledger; they are not secrets: reading a trace needs ai.trace).
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def new_request_id(kind: str = "chatcmpl") -> str:
    return f"{kind}-{_ID_PREFIX}{next(_ID_COUNTER):012x}"


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class Gateway:
    def __init__(self, settings: AISettings, registry: ModelRegistry, ledger: LedgerPort,
                 *, policy: PolicyPort | None, keys: KeysPort | None,
                 classifier: ClassifierPort | None, retriever: RetrieverPort | None,
                 embedder: EmbedderPort | None, index: RequestIndex,
                 text_policies: TextPolicies | None = None,
                 backends: BackendPool | None = None, limits: Limits | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.ledger = ledger
        self.policy = policy
        self.keys = keys
        self.classifier = classifier
        self.retriever = retriever
        self.embedder = embedder
        self.index = index
        self.text_policies = text_policies
        self.backends = backends or BackendPool(settings)
        self.limits = limits or Limits(settings.limits())
        self._background: set[asyncio.Task[None]] = set()

    # -- admission and model choice -------------------------------------------------------
    def _check_open(self) -> None:
        if self.keys is not None and self.keys.is_sealed():
            raise SealedError("the instance is sealed: no answers until it is unsealed")

    async def _model(self, model_id: str, kind: str, caller: Principal) -> ModelRecord:
        """The approved model of this kind; an external one only if policy allows this
        caller to use it (that decision is recorded, off the event loop)."""
        record = await self.registry.get_async(model_id)
        if record.spec.kind != kind:
            raise ModelNotFoundError(f"model {model_id!r} is a {record.spec.kind} model, "
                                     f"not a {kind} model")
        if not record.approved:
            raise PermissionDeniedError(f"model {model_id!r} is registered but not approved",
                                        ("model not approved",))
        if record.spec.locality == "external":
            if not self.settings.allow_external:
                raise PermissionDeniedError(
                    f"model {model_id!r} is an external provider and external providers are "
                    "disabled (SOVRA_AI_ALLOW_EXTERNAL)", ("external providers disabled",))
            if self.policy is None:
                raise PermissionDeniedError("no policy engine to decide external use")
            await self.policy.require_async(caller, "models.use", "Model", model_id,
                                            {"max_classification": self.ceiling(record),
                                             "approved": record.approved})
        return record

    async def _is_external(self, model_id: str) -> bool:
        try:
            return (await self.registry.get_async(model_id)).spec.locality == "external"
        except SovraError:
            return False  # unknown: refused by ``_model`` before anything else happens

    @staticmethod
    def ceiling(record: ModelRecord) -> str:
        """The model's ceiling, capped at "internal" for external providers (issue 7)."""
        if record.spec.locality == "external" and rank(record.spec.ceiling) > rank("internal"):
            return "internal"
        return record.spec.ceiling

    # -- classification -------------------------------------------------------------------
    def _assess(self, texts: Sequence[str]) -> list[Assessment]:
        if self.classifier is None:
            # Fail closed: with no detectors nothing can be shown to be below "secret".
            return [Assessment("secret") for _ in texts]
        return [self.classifier.classify(t) for t in texts]

    def _classify_one(self, text: str) -> Assessment:
        return self._assess([text])[0]

    async def _retrieve(self, caller: Principal, request: ChatRequest) -> list[RetrievedChunk]:
        if not request.collections:
            return []
        if self.retriever is None:
            raise InvalidInputError("retrieval is not available on this instance")
        top_k = max(1, min(request.top_k, self.settings.top_k_limit))
        return await asyncio.to_thread(self.retriever.retrieve, caller, request.collections,
                                       question_of(request.messages), top_k)

    def _keeps_text(self, collections: Sequence[str]) -> bool:
        if self.text_policies is None or self.keys is None:
            return False
        return any(self.text_policies.keeps_text(c) for c in collections)

    # -- chat -----------------------------------------------------------------------------
    async def prepare_chat(self, caller: Principal, request: ChatRequest, *,
                           decision: DeferredEntry | None = None) -> PreparedChat:
        """Admit, govern and record a chat request. Pair with ``complete`` or ``stream``.

        A request refused here (quota, unknown or unapproved model, oversized prompt,
        retrieval error) is recorded too: issue 7 wants the outcome of bad input in the
        ledger, not only of answered requests. ``decision``, the caller's not yet
        recorded policy decision, is committed in one batch with this request's first
        entry, before it (ADR 0605); the model runs only after both are durable.
        """
        self._check_open()
        try:
            self.limits.admit(caller.principal_id)
        except (QuotaExceededError, OverloadedError) as exc:
            await self._record_refusal(caller, request, exc, decision)
            raise
        try:
            return await self._prepare(caller, request, decision)
        except (LedgerUnavailableError, SealedError, ClassificationRefusedError):
            self.limits.release(caller.principal_id, 0)
            raise  # unrecordable, or recorded already with its reasons
        except SovraError as exc:
            self.limits.release(caller.principal_id, 0)
            await self._record_refusal(caller, request, exc, decision)
            raise
        except BaseException:
            self.limits.release(caller.principal_id, 0)
            raise

    async def record_invalid(self, caller: Principal, path: str,
                             problems: Sequence[str]) -> None:
        """Record a request whose body did not parse or validate (answered 400)."""
        await self.ledger.append_async(
            caller.principal_id, "ai.request.invalid", path[:256], "failure",
            {"problems": [p[:300] for p in problems]})

    async def _append(self, decision: DeferredEntry | None, fields: EntryFields
                      ) -> Recorded:
        """Append an entry, preceded in the same batch by ``decision`` if still pending:
        one transaction, so both are durable or neither is (no record, no answer)."""
        first = decision.take() if decision is not None else None
        if first is None:
            return await self.ledger.append_async(*fields)
        receipts = await self.ledger.append_many_async([first, fields])
        return receipts[-1]

    async def _record_decision(self, decision: DeferredEntry | None) -> None:
        """Record a pending decision on its own, before work that is not the model's."""
        first = decision.take() if decision is not None else None
        if first is not None:
            await self.ledger.append_async(*first)

    async def _record_refusal(self, caller: Principal, request: ChatRequest,
                              exc: SovraError, decision: DeferredEntry | None = None) -> None:
        denied = isinstance(exc, QuotaExceededError | OverloadedError | PermissionDeniedError)
        await self._append(decision, (
            caller.principal_id, "ai.chat", f"model/{request.model[:128]}",
            "denied" if denied else "failure",
            {"model": request.model[:128], "collections": list(request.collections),
             "error": type(exc).__name__, "reason": str(exc)[:500]}))

    async def _prepare(self, caller: Principal, request: ChatRequest,
                       decision: DeferredEntry | None) -> PreparedChat:
        started = time.perf_counter()
        request_id = new_request_id()
        if request.collections or await self._is_external(request.model):
            # Retrieval reads documents and an external model asks policy again (its
            # own recorded decision): the caller's decision is durable before either.
            await self._record_decision(decision)
        record = await self._model(request.model, "chat", caller)
        prompt_chars = sum(len(m.content) for m in request.messages)
        if prompt_chars > self.settings.max_prompt_chars:
            raise InvalidInputError(
                f"prompt is {prompt_chars} characters; the limit is "
                f"{self.settings.max_prompt_chars} (SOVRA_AI_MAX_PROMPT_CHARS)")
        chunks = await self._retrieve(caller, request)
        texts = [m.content for m in request.messages] + [c.text for c in chunks]
        if sum(len(t) for t in texts) <= _INLINE_CLASSIFY_CHARS:
            assessments = self._assess(texts)
        else:
            assessments = await asyncio.to_thread(self._assess, texts)
        ceiling = self.ceiling(record)
        floors = ["public"] * len(request.messages) + [c.citation.classification
                                                        for c in chunks]
        verdict = governance.decide(texts, assessments, ceiling=ceiling,
                                    mode=self.settings.classification_mode,
                                    classify=self._classify_one, floors=floors)
        prompt_text = "\n".join(f"{m.role}: {m.content}" for m in request.messages)
        details = self._request_details(request_id, record, request, chunks=chunks,
                                        verdict=verdict, prompt_text=prompt_text)
        if not verdict.allowed:
            await self._append(decision, (caller.principal_id, "ai.chat",
                                          f"model/{record.model_id}", "denied", details))
            raise ClassificationRefusedError("; ".join(verdict.reasons))
        backend = await self.backends.backend(record)
        n = len(request.messages)
        sent = [ChatMessage(m.role, t) for m, t in zip(request.messages, verdict.texts[:n],
                                                        strict=True)]
        messages = with_context(sent, verdict.texts[n:])
        receipt = await self._append(decision, (caller.principal_id, "ai.chat",
                                                f"model/{record.model_id}", "allowed",
                                                details))
        return PreparedChat(
            request_id=request_id, principal_id=caller.principal_id, record=record,
            backend=backend, messages=tuple(messages), params=request.params,
            citations=tuple(c.citation for c in chunks) if request.citations else (),
            classification=verdict.effective, request_seq=receipt.seq, started=started,
            created=int(time.time()), keep_text=self._keeps_text(request.collections),
            prompt_text=prompt_text)

    @staticmethod
    def _request_details(request_id: str, record: ModelRecord, request: ChatRequest, *,
                         chunks: Sequence[RetrievedChunk], verdict: governance.Verdict,
                         prompt_text: str) -> dict[str, object]:
        return {
            "request_id": request_id, "model": record.model_id,
            "weights_sha256": record.spec.sha256, "locality": record.spec.locality,
            "collections": list(request.collections),
            "chunks": [{"collection": c.citation.collection, "chunk_id": c.citation.chunk_id,
                        "document_id": c.citation.document_id, "version": c.citation.version,
                        "position": c.citation.chunk_position} for c in chunks],
            "classification": verdict.effective, "classification_before": verdict.original,
            "ceiling": Gateway.ceiling(record), "redacted_spans": verdict.redacted_spans,
            "decision": "allow" if verdict.allowed else "deny",
            "reasons": list(verdict.reasons), "prompt_sha256": sha256_text(prompt_text),
        }

    async def complete(self, prepared: PreparedChat) -> ChatResult:
        """Run the model to the end; the outcome is recorded before the answer returns."""
        try:
            done = await prepared.backend.complete(prepared.messages, prepared.params)
        except BaseException as exc:
            await self._finish(prepared, "", Usage(0, 0), "failure", type(exc).__name__)
            raise
        # Fail closed: the answer is released only once its record is durable.
        await self._finish(prepared, done.text, done.usage, "success", done.finish_reason)
        return ChatResult(done.text, done.finish_reason, done.usage)

    async def stream(self, prepared: PreparedChat) -> AsyncGenerator[Delta, None]:
        """Yield deltas. A finished stream is recorded before its last delta is yielded
        (so the client's ``[DONE]`` follows a durable record); a stream cut short — the
        client went away, the backend failed — is recorded when it ends."""
        parts: list[str] = []
        outcome, reason = "failure", "client disconnected"
        recorded = False
        try:
            async with aclosing(prepared.backend.stream(prepared.messages,
                                                        prepared.params)) as deltas:
                async for delta in deltas:
                    if delta.text:
                        parts.append(delta.text)
                    if delta.finish_reason is not None:
                        usage = Usage(delta.prompt_tokens or 0,
                                      delta.completion_tokens or len(parts))
                        recorded = True
                        await self._finish(prepared, "".join(parts), usage, "success",
                                           delta.finish_reason)
                    yield delta
        except Exception as exc:
            outcome, reason = "failure", type(exc).__name__
            raise
        finally:
            if not recorded:
                # Also runs when the task was cancelled (client disconnect), so the
                # record is written from a task of its own rather than awaited here.
                task = asyncio.get_running_loop().create_task(self._finish(
                    prepared, "".join(parts), Usage(0, len(parts)), outcome, reason))
                self._background.add(task)
                task.add_done_callback(self._background.discard)

    async def _finish(self, prepared: PreparedChat, answer: str, usage: Usage, outcome: str,
                      reason: str) -> None:
        # Integer microseconds: a float would send the whole entry down the ledger's
        # slow RFC 8785 path (about 0.2 ms of event-loop time per request here).
        latency_us = int((time.perf_counter() - prepared.started) * 1_000_000)
        try:
            receipt = await self.ledger.append_async(
                prepared.principal_id, "ai.chat.outcome", f"model/{prepared.record.model_id}",
                outcome, {"request_id": prepared.request_id, "request_seq": prepared.request_seq,
                          "answer_sha256": sha256_text(answer), "reason": reason,
                          "prompt_tokens": usage.prompt_tokens,
                          "completion_tokens": usage.completion_tokens,
                          "latency_us": latency_us})
            row = IndexRow(prepared.request_id, prepared.request_seq, receipt.seq,
                           prepared.principal_id, prepared.record.model_id, time.time())
            if prepared.keep_text and self.keys is not None:
                await self._keep_text(prepared, row, answer)
            else:
                self.index.add(row)  # batched: trace falls back to the ledger (ADR 0608)
        except BaseException:
            self.index.add(IndexRow(prepared.request_id, prepared.request_seq, None,
                                    prepared.principal_id, prepared.record.model_id,
                                    time.time()))
            raise
        finally:
            self.limits.release(prepared.principal_id, usage.total_tokens)

    async def _keep_text(self, prepared: PreparedChat, row: IndexRow, answer: str) -> None:
        """Kept text has no copy in the ledger (only its hashes), so it is written with
        the ledger's guarantee, a syncing commit, before the answer is released; if it
        cannot be, the failure is recorded and no answer is released (ADR 0608)."""
        try:
            await asyncio.to_thread(self._put_kept_text, prepared, row, answer)
        except SovraError as exc:
            await self.ledger.append_async(
                prepared.principal_id, "ai.chat.kept_text", f"model/{prepared.record.model_id}",
                "failure", {"request_id": prepared.request_id, "error": type(exc).__name__,
                            "reason": str(exc)[:300]})
            raise

    def _put_kept_text(self, prepared: PreparedChat, row: IndexRow, answer: str) -> None:
        keys = self.keys
        if keys is None:
            raise SealedError("no key service to encrypt kept text with")
        rid = prepared.request_id
        self.index.put_durable(dataclasses.replace(
            row,
            prompt_ciphertext=keys.encrypt(TEXT_KEYRING, f"{rid}/prompt",
                                           prepared.prompt_text.encode()),
            answer_ciphertext=keys.encrypt(TEXT_KEYRING, f"{rid}/answer", answer.encode())))

    # -- embeddings -----------------------------------------------------------------------
    async def embed(self, caller: Principal, model_id: str, inputs: Sequence[str]
                    ) -> tuple[str, list[list[float]], int]:
        """Embed ``inputs``; returns (request id, vectors, token estimate)."""
        self._check_open()
        self.limits.admit(caller.principal_id)
        tokens = 0
        try:
            record = await self._model(model_id, "embedding", caller)
            if self.embedder is None or self.embedder.model_id != record.model_id:
                raise ModelNotFoundError(f"embedding model {model_id!r} is not loaded here")
            if sum(len(t) for t in inputs) > self.settings.max_prompt_chars * 4:
                raise InvalidInputError("input too large to embed in one request")
            assessments = await asyncio.to_thread(self._assess, list(inputs))
            verdict = governance.decide(list(inputs), assessments,
                                        ceiling=self.ceiling(record), mode="refuse",
                                        classify=self._classify_one)
            request_id = new_request_id("embd")
            tokens = sum(max(1, len(t) // 4) for t in inputs)
            details = {"request_id": request_id, "model": record.model_id,
                       "weights_sha256": record.spec.sha256, "inputs": len(inputs),
                       "input_sha256": sha256_text("\x1e".join(inputs)),
                       "classification": verdict.effective, "reasons": list(verdict.reasons)}
            outcome = "allowed" if verdict.allowed else "denied"
            await self.ledger.append_async(caller.principal_id, "ai.embed",
                                           f"model/{record.model_id}", outcome, details)
            if not verdict.allowed:
                raise ClassificationRefusedError("; ".join(verdict.reasons))
            vectors = await asyncio.to_thread(self.embedder.embed, list(inputs))
            return request_id, vectors, tokens
        finally:
            self.limits.release(caller.principal_id, tokens)

    def set_text_policy(self, caller: Principal, collection_id: str, *, keep_text: bool
                        ) -> None:
        """Set whether requests over the collection keep their (encrypted) text."""
        if self.text_policies is None:
            raise InvalidInputError("text policies are not available on this instance")
        self.text_policies.set(caller.principal_id, collection_id, keep_text=keep_text)

    # -- trace ----------------------------------------------------------------------------
    async def trace(self, caller: Principal, request_id: str) -> Trace:
        """A request's lineage with inclusion proofs to a freshly signed checkpoint, for
        ``caller`` only if policy lets it read a trace of the request's classification."""
        await self.index.flush()
        authorize = policy_authorizer(self.policy, caller, request_id)
        return await asyncio.to_thread(lineage, self.index, self.ledger, self.keys,
                                       request_id, keyring=TEXT_KEYRING, sign=True,
                                       authorize=authorize)

    def trace_sync(self, request_id: str, *, flush: bool = True, sign: bool = False) -> Trace:
        """``trace`` for the local operator (the CLI), outside any event loop. Not
        decided by policy: whoever runs it holds the database and the unsealed keys."""
        if flush:
            self.index.flush_sync()
        return lineage(self.index, self.ledger, self.keys, request_id, keyring=TEXT_KEYRING,
                       sign=sign, authorize=None)

    def close(self) -> None:
        """Synchronous shutdown (the instance closing): write pending index rows."""
        self.index.close()

    async def aclose(self) -> None:
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        await self.index.aclose()
        await self.backends.aclose()
