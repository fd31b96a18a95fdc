"""The chat operation's values and its one owner of an admitted request (ADR 0609).

``Gateway.chat(caller, decision, request)`` returns a ``ChatScope``; every edge (the
OpenAI route, the console's playground, a test) uses it the same way::

    async with gateway.chat(caller, decision, request) as chat:
        result = await chat.complete()        # or: async for delta in chat.stream()
        ...send the answer...

Entering admits (the caller's slot, ``sovra.ai.limits``), governs and records the
request, committing the caller's pending policy ``decision`` in one batch with the
request's first entry (ADR 0605); a refusal there is recorded, the decision with it,
and raised. Leaving records the outcome if the answer did not (an error, a client gone,
a stream whose generator never started) and gives the slot back: whoever admitted a
request owns its release, for complete, streamed and failed answers alike.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import itertools
import secrets
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from types import TracebackType
from typing import TYPE_CHECKING

from sovra.ai.backends.base import ChatBackend
from sovra.ai.events import Event, Outcome
from sovra.ai.limits import Slot
from sovra.ai.models import ChatMessage, Citation, Delta, GenerationParams, ModelRecord, Usage
from sovra.ai.ports import Principal
from sovra.errors import (
    ClassificationRefusedError,
    LedgerUnavailableError,
    SealedError,
    SovraError,
    UpstreamUnavailableError,
)

if TYPE_CHECKING:
    from sovra.ai.gateway import Gateway


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


class PendingDecision:
    """The caller's policy decision, decided by the edge and not yet recorded: the
    first entry the gateway writes for the request carries it (``take`` gives it once)."""

    __slots__ = ("_event",)

    def __init__(self, event: Event | None) -> None:
        self._event = event

    def take(self) -> Event | None:
        event, self._event = self._event, None
        return event


# Errors recorded already with their reasons, or that cannot be recorded at all.
_NOT_RECORDED_AGAIN = (LedgerUnavailableError, SealedError, ClassificationRefusedError)


class ChatScope:
    """``async with`` owner of one chat request; made by ``Gateway.chat`` only."""

    __slots__ = ("_caller", "_chat", "_gateway", "_pending", "_request")

    def __init__(self, gateway: Gateway, caller: Principal, decision: Event | None,
                 request: ChatRequest) -> None:
        self._gateway = gateway
        self._caller = caller
        self._pending = PendingDecision(decision)
        self._request = request
        self._chat: AdmittedChat | None = None

    async def __aenter__(self) -> AdmittedChat:
        gateway, caller, request, pending = (self._gateway, self._caller, self._request,
                                             self._pending)
        try:
            gateway.check_open()
            slot = gateway.limits.slot(caller.principal_id)
        except SovraError as exc:
            if not isinstance(exc, _NOT_RECORDED_AGAIN):
                await gateway.record_refusal(pending, caller, request, exc)
            await gateway.record_pending(pending)
            raise
        try:
            prepared = await gateway.prepare(caller, request, pending)
        except BaseException as exc:
            slot.release()
            if isinstance(exc, SovraError) and not isinstance(exc, _NOT_RECORDED_AGAIN):
                await gateway.record_refusal(pending, caller, request, exc)
            await gateway.record_pending(pending)
            raise
        self._chat = AdmittedChat(gateway, prepared, slot, caller, request)
        return self._chat

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._chat is not None:
            await self._chat.close(exc)


class AdmittedChat:
    """A chat admitted, governed and recorded: the model may run, once, through
    ``complete`` or ``stream``, inside the ``async with`` block that admitted it."""

    __slots__ = ("_caller", "_error", "_gateway", "_parts", "_recorded", "_request", "_slot",
                 "_started", "prepared")

    def __init__(self, gateway: Gateway, prepared: PreparedChat, slot: Slot,
                 caller: Principal | None = None, request: ChatRequest | None = None
                 ) -> None:
        self._gateway = gateway
        self.prepared = prepared
        self._slot = slot
        # For a fallback when the model's upstream is down (sovra.ai.fallback).
        self._caller = caller
        self._request = request
        self._recorded = False
        self._started = False
        self._parts: list[str] = []
        self._error: str | None = None

    @property
    def request_id(self) -> str:
        return self.prepared.request_id

    async def complete(self) -> ChatResult:
        """Run the model to the end; the outcome is durable before the answer returns."""
        prepared = self.prepared
        self._started = True
        try:
            try:
                done = await prepared.backend.complete(prepared.messages, prepared.params)
            except UpstreamUnavailableError as down:
                prepared = await self._fall_back(down)  # raises ``down`` if none
                done = await prepared.backend.complete(prepared.messages, prepared.params)
        except BaseException as exc:
            self._error = type(exc).__name__
            raise
        # Fail closed: the answer is released only once its record is durable.
        await self._finish(done.text, done.usage, Outcome.SUCCESS, done.finish_reason)
        return ChatResult(done.text, done.finish_reason, done.usage)

    async def _fall_back(self, down: UpstreamUnavailableError) -> PreparedChat:
        """Switch to the fallback model the policy names (``sovra.ai.fallback``): the
        failed request's outcome and the switch are recorded, the fallback request is
        governed and recorded like any other; no fallback named: ``down`` is raised."""
        from sovra.ai import fallback

        failed = self.prepared
        if self._caller is None or self._request is None:
            raise down
        chosen = await fallback.choose(self._gateway, self._caller, failed.record.model_id)
        if chosen is None:
            raise down
        reason = f"{type(down).__name__}: {down}"
        await fallback.record(self._gateway, self._caller, failed_request=failed.request_id,
                              failed_model=failed.record.model_id, fallback_model=chosen,
                              reason=reason)
        await self._finish("", Usage(0, 0), Outcome.FAILURE,
                           f"{reason}; answered by the fallback model {chosen}")
        replacement = await self._gateway.prepare(
            self._caller, dataclasses.replace(self._request, model=chosen),
            PendingDecision(None))
        self.prepared, self._recorded = replacement, False
        return replacement

    async def stream(self) -> AsyncGenerator[Delta, None]:
        """Yield deltas. A finished stream is recorded before its last delta is yielded
        (so the client's ``[DONE]`` follows a durable record); a stream cut short is
        recorded when the block that admitted it ends. An upstream that is down before
        the first delta falls back as ``complete`` does (``_deltas``); an edge that waits
        for the first delta before it answers (the OpenAI edge) so names the model that
        answers, or answers 503 when none may."""
        self._started = True
        parts = self._parts
        try:
            async with aclosing(self._deltas()) as deltas:
                async for delta in deltas:
                    if delta.text:
                        parts.append(delta.text)
                    if delta.finish_reason is not None:
                        usage = Usage(delta.prompt_tokens or 0,
                                      delta.completion_tokens or len(parts))
                        await self._finish("".join(parts), usage, Outcome.SUCCESS,
                                           delta.finish_reason)
                    yield delta
        except Exception as exc:
            self._error = type(exc).__name__
            raise

    async def _deltas(self) -> AsyncGenerator[Delta, None]:
        """The model's deltas; the fallback's when the upstream is down before any."""
        prepared = self.prepared
        produced = False
        try:
            async with aclosing(prepared.backend.stream(prepared.messages,
                                                        prepared.params)) as deltas:
                async for delta in deltas:
                    produced = True
                    yield delta
        except UpstreamUnavailableError as down:
            if produced:  # never splice an answer from two models (sovra.ai.fallback)
                raise
            prepared = await self._fall_back(down)  # raises ``down`` if none
        else:
            return
        async with aclosing(prepared.backend.stream(prepared.messages,
                                                    prepared.params)) as deltas:
            async for delta in deltas:
                yield delta

    async def close(self, error: BaseException | None) -> None:
        """Record the outcome if nothing did yet, then give the slot back."""
        try:
            if not self._recorded:
                await self._record_cut_short(error)
        finally:
            self._slot.release()

    async def _record_cut_short(self, error: BaseException | None) -> None:
        if self._error is not None:
            reason = self._error  # the model's (the backend's) error
        elif self._started:
            reason = "client disconnected"  # the answer began; its reader went away
        else:
            # Nothing ran the model: the block ended (an error sending the response's
            # start, a page that failed to render) before the answer was asked for.
            reason = ("answer never started" if error is None
                      else f"answer never started: {type(error).__name__}")
        text = "".join(self._parts)
        # From a task of its own: a cancelled caller (the client went away) may be
        # cancelled again at its next await, and the record must be written regardless.
        task = asyncio.get_running_loop().create_task(
            self._finish(text, Usage(0, len(self._parts)), Outcome.FAILURE, reason))
        self._gateway.keep_until_closed(task)
        await asyncio.shield(task)

    async def _finish(self, answer: str, usage: Usage, outcome: Outcome, reason: str
                      ) -> None:
        self._recorded = True  # once: a second try after a failed append would only fail
        self._slot.tokens = usage.total_tokens
        await self._gateway.record_outcome(self.prepared, answer, usage, outcome, reason)


__all__ = ["AdmittedChat", "ChatRequest", "ChatResult", "ChatScope", "PendingDecision",
           "PreparedChat", "new_request_id", "sha256_text"]
