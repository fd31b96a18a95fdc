"""The governed AI gateway: one service that every chat and embedding request goes through.

Per request (issue 7, "Governance on every request"): admission (per-principal quotas
and concurrency; the instance's in-flight limit is the door's, ``Gateway.door``) -> the
model must be registered, approved and of the right kind
-> retrieval, permission-filtered by the data layer before anything reaches a model ->
effective classification = max(prompt, retrieved chunks) against the model's ceiling
(refuse, or redact where the setting says so) -> a ledger entry BEFORE the model sees
anything (record, then act) -> generation -> a ledger entry with the outcome, answer
hash, tokens and latency. If the ledger cannot record or the instance is sealed, no
answer is produced (fail closed).

One operation for every edge, ``Gateway.chat(caller, decision, request)``, whose
``async with`` block owns the admitted request (``sovra.ai.chat``, ADR 0609).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Sequence

from sovra.ai import governance
from sovra.ai.admission import Door
from sovra.ai.backends.pool import BackendPool
from sovra.ai.chat import (
    ChatRequest,
    ChatResult,
    ChatScope,
    PendingDecision,
    PreparedChat,
    new_request_id,
    sha256_text,
)
from sovra.ai.events import Event, Outcome
from sovra.ai.levels import rank
from sovra.ai.limits import Limits
from sovra.ai.models import (
    Assessment,
    ChatMessage,
    ModelRecord,
    RetrievedChunk,
    Usage,
)
from sovra.ai.ports import (
    ClassifierPort,
    EmbedderPort,
    KeysPort,
    LedgerPort,
    PolicyPort,
    Principal,
    Recorded,
    RetrieverPort,
)
from sovra.ai.rag import DECLINE, grounding, question_of, with_context
from sovra.ai.registry import ModelRegistry
from sovra.ai.request_index import IndexRow, RequestIndex
from sovra.ai.settings import AISettings
from sovra.ai.text_policy import TextPolicies
from sovra.ai.trace import Trace, lineage, policy_authorizer
from sovra.errors import (
    ClassificationRefusedError,
    InvalidInputError,
    ModelNotFoundError,
    PermissionDeniedError,
    SealedError,
    SovraError,
)

# Text kept for a collection is encrypted under this keyring (instance.keys).
TEXT_KEYRING = "ai-requests"
_INLINE_CLASSIFY_CHARS = 4096  # below this, classifying costs less than a thread hop


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
        # Per-principal limits here; the instance's one in-flight limit is the door's,
        # counted by the admission middleware on /v1/ (ADR 0609).
        self.limits = limits or Limits(settings.limits())
        self.door = Door(settings.max_in_flight)
        self._background: set[asyncio.Task[None]] = set()

    # -- admission and model choice -------------------------------------------------------
    def check_open(self) -> None:
        if self.keys is not None and self.keys.is_sealed():
            raise SealedError("the instance is sealed: no answers until it is unsealed")

    async def _model(self, model_id: str, kind: str, caller: Principal) -> ModelRecord:
        """The approved model of this kind; an external one only if policy allows."""
        return await self._usable(await self.registry.get_async(model_id), kind, caller)

    async def _usable(self, record: ModelRecord, kind: str, caller: Principal
                      ) -> ModelRecord:
        """``record`` if it is an approved model of this kind; an external one only if
        policy allows this caller to use it (that decision is recorded, off the loop)."""
        model_id = record.model_id
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

    # -- chat ---------------------------------------------------------------------------
    def chat(self, caller: Principal, decision: Event | None, request: ChatRequest
             ) -> ChatScope:
        """The chat operation, for every edge: ``async with gateway.chat(...) as chat``,
        then ``chat.complete()`` or ``chat.stream()`` inside the block (``sovra.ai.chat``).

        ``decision`` is the caller's policy decision when the edge decided it and left
        it unrecorded (ADR 0605): it is committed in one batch with the request's first
        entry, and recorded on every path before the block is entered or the operation
        raises. A request refused on the way in (quota, unknown or unapproved model,
        oversized prompt, retrieval error) is recorded too (issue 7, "Bad input").
        """
        return ChatScope(self, caller, decision, request)

    async def record_invalid(self, caller: Principal, decision: Event | None, path: str,
                             problems: Sequence[str]) -> None:
        """Record a request whose body did not parse or validate (answered 400), with
        the caller's pending decision before it in one batch."""
        await self._record(PendingDecision(decision), Event.failure(
            caller.principal_id, "ai.request.invalid", path[:256],
            InvalidInputError("the request body is invalid"),
            {"problems": [p[:300] for p in problems]}))

    async def _record(self, pending: PendingDecision, event: Event) -> Recorded:
        """Append ``event``, preceded in the same batch by the pending decision if there
        is one: one transaction, so both are durable or neither is (no record, no
        answer). The AI room's one conversion of events to the ledger's fields."""
        first = pending.take()
        if first is None:
            return await self.ledger.append_async(*event.fields())
        receipts = await self.ledger.append_many_async([first.fields(), event.fields()])
        return receipts[-1]

    async def record_pending(self, pending: PendingDecision) -> None:
        """Record the pending decision on its own, if nothing recorded it yet."""
        first = pending.take()
        if first is not None:
            await self.ledger.append_async(*first.fields())

    async def record_refusal(self, pending: PendingDecision, caller: Principal,
                             request: ChatRequest, exc: SovraError) -> None:
        model = request.model[:128]
        await self._record(pending, Event.failure(
            caller.principal_id, "ai.chat", f"model/{model}", exc,
            {"model": model, "collections": list(request.collections)}))

    async def prepare(self, caller: Principal, request: ChatRequest,
                      pending: PendingDecision) -> PreparedChat:
        """Govern and record an admitted request (``ChatScope`` calls this)."""
        started = time.perf_counter()
        request_id = new_request_id()
        record = await self.registry.get_async(request.model)  # once per request
        if request.collections or record.spec.locality == "external":
            # Retrieval reads documents and an external model asks policy again (its
            # own recorded decision): the caller's decision is durable before either.
            await self.record_pending(pending)
        record = await self._usable(record, "chat", caller)
        prompt_chars = sum(len(m.content) for m in request.messages)
        if prompt_chars > self.settings.max_prompt_chars:
            raise InvalidInputError(
                f"prompt is {prompt_chars} characters; the limit is "
                f"{self.settings.max_prompt_chars} (SOVRA_AI_MAX_PROMPT_CHARS)")
        chunks = await self._retrieve(caller, request)
        # Only relevant chunks reach the model; none relevant: Sovra declines (ADR 0610).
        grounded = (await grounding(self.embedder, question_of(request.messages), chunks,
                                    self.settings.relevance_threshold)
                    if request.collections else None)
        chunks = list(grounded.chunks) if grounded is not None else chunks
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
        if grounded is not None:
            details["grounding"] = grounded.details()
        resource = f"model/{record.model_id}"
        if not verdict.allowed:
            await self._record(pending, Event(caller.principal_id, "ai.chat", resource,
                                              Outcome.DENIED, details))
            raise ClassificationRefusedError("; ".join(verdict.reasons))
        backend = (DECLINE if grounded is not None and grounded.declined
                   else await self.backends.backend(record))
        n = len(request.messages)
        sent = [ChatMessage(m.role, t) for m, t in zip(request.messages, verdict.texts[:n],
                                                        strict=True)]
        messages = with_context(sent, verdict.texts[n:])
        receipt = await self._record(pending, Event(caller.principal_id, "ai.chat",
                                                    resource, Outcome.ALLOWED, details))
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

    async def record_outcome(self, prepared: PreparedChat, answer: str, usage: Usage,
                             outcome: Outcome, reason: str) -> None:
        """The request's outcome entry and its index row (``AdmittedChat`` calls this)."""
        # Integer microseconds: a float would send the whole entry down the ledger's
        # slow RFC 8785 path (about 0.2 ms of event-loop time per request here).
        latency_us = int((time.perf_counter() - prepared.started) * 1_000_000)
        try:
            receipt = await self._record(PendingDecision(None), Event(
                prepared.principal_id, "ai.chat.outcome", f"model/{prepared.record.model_id}",
                outcome, {"request_id": prepared.request_id,
                          "request_seq": prepared.request_seq,
                          "answer_sha256": sha256_text(answer), "reason": reason,
                          "prompt_tokens": usage.prompt_tokens,
                          "completion_tokens": usage.completion_tokens,
                          "latency_us": latency_us}))
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

    def keep_until_closed(self, task: asyncio.Task[None]) -> None:
        """Hold a record being written by a task of its own until it is done (``aclose``
        waits for it)."""
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _keep_text(self, prepared: PreparedChat, row: IndexRow, answer: str) -> None:
        """Kept text has no copy in the ledger (only its hashes), so it is written with
        the ledger's guarantee, a syncing commit, before the answer is released; if it
        cannot be, the failure is recorded and no answer is released (ADR 0608)."""
        try:
            await asyncio.to_thread(self._put_kept_text, prepared, row, answer)
        except SovraError as exc:
            await self._record(PendingDecision(None), Event.failure(
                prepared.principal_id, "ai.chat.kept_text",
                f"model/{prepared.record.model_id}", exc, {"request_id": prepared.request_id}))
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
        self.check_open()
        with self.limits.slot(caller.principal_id) as slot:
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
            slot.tokens = tokens = sum(max(1, len(t) // 4) for t in inputs)
            details = {"request_id": request_id, "model": record.model_id,
                       "weights_sha256": record.spec.sha256, "inputs": len(inputs),
                       "input_sha256": sha256_text("\x1e".join(inputs)),
                       "classification": verdict.effective, "reasons": list(verdict.reasons)}
            outcome = Outcome.ALLOWED if verdict.allowed else Outcome.DENIED
            await self._record(PendingDecision(None), Event(
                caller.principal_id, "ai.embed", f"model/{record.model_id}", outcome, details))
            if not verdict.allowed:
                raise ClassificationRefusedError("; ".join(verdict.reasons))
            vectors = await asyncio.to_thread(self.embedder.embed, list(inputs))
            return request_id, vectors, tokens

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


__all__ = ["TEXT_KEYRING", "ChatRequest", "ChatResult", "Gateway", "PreparedChat",
           "new_request_id", "sha256_text"]
