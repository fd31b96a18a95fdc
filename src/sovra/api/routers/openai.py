"""The OpenAI-compatible surface: /v1/chat/completions, /v1/embeddings, /v1/models,
and Sovra's own /v1/sovra/* (trace, model registration and approval).

Thin edge (house style 11): parse, call the gateway, render. Streaming follows the
OpenAI server-sent events format exactly: ``data: {chunk}\\n\\n`` ... ``data: [DONE]\\n\\n``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import aclosing
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from sovra.ai import wire
from sovra.ai.gateway import Gateway, PreparedChat
from sovra.ai.models import ModelSpec
from sovra.api.auth import Caller, authorized, deferred_decision, record_deferred
from sovra.api.errors import status_for
from sovra.api.validation import text_problem
from sovra.errors import InvalidInputError, SovraError
from sovra.policy import Resource


class _RecordedRoute(APIRoute):
    """Bad input is recorded too (issue 7, "Bad input"): a body that does not parse or
    validate is answered 400 by FastAPI before the endpoint runs, so the route records
    it here for an authenticated caller. Unauthenticated junk is not recorded as an AI
    request: it never got past the door, and identity records failed credentials."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def recorded(request: Request) -> Response:
            # A decision the auth dependency deferred (ADR 0605) is recorded before any
            # answer leaves, whatever the route did: normally the gateway committed it
            # with the request's entry already, and this does nothing.
            try:
                response = await handler(request)
            except RequestValidationError as exc:
                await record_deferred(request)
                await _record_invalid(request, exc)
                raise
            except BaseException:
                await record_deferred(request)
                raise
            await record_deferred(request)
            return response

        return recorded


async def _record_invalid(request: Request, exc: RequestValidationError) -> None:
    instance = request.app.state.instance
    client = request.client.host if request.client else "unknown"
    try:
        caller = await run_in_threadpool(instance.identity.authenticate,
                                         request.headers.get("authorization"), client)
    except SovraError:
        return
    path = request.url.path
    if text_problem(path) is not None:
        # Recorded as sent (percent-encoded): the decoded path holds what the edge
        # refused (NUL), which the ledger cannot store either (issue 13).
        path = bytes(request.scope.get("raw_path") or b"?").decode("latin-1")
    await instance.ai.record_invalid(caller, path, invalid_problems(exc))


def invalid_problems(exc: RequestValidationError) -> list[str]:
    """What ``ai.request.invalid`` records: the first ten problems, location and message."""
    return [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg')}"
            for e in exc.errors()][:10]


router = APIRouter(prefix="/v1", tags=["openai"], route_class=_RecordedRoute)

ModelUser = Annotated[Caller, Depends(authorized("models.use", "Model"))]
# The chat route's allow is committed in one batch with the request's ai.chat entry.
# One instance, shared with the hot path that serves this route (openai_hot.py).
CHAT_AUTH = authorized("models.use", "Model", defer_allowed_record=True)
ChatUser = Annotated[Caller, Depends(CHAT_AUTH)]
Tracer = Annotated[Caller, Depends(authorized("ai.trace", "Trace",
                                              resource_id_param="request_id"))]
Registrar = Annotated[Caller, Depends(authorized("models.register", "Model"))]
Approver = Annotated[Caller, Depends(authorized("models.approve", "Model",
                                                resource_id_param="model_id"))]

_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "invalid request (OpenAI error format)"},
    401: {"description": "no or bad credential"},
    403: {"description": "denied by policy, or the model is not approved for the data"},
    404: {"description": "unknown model"},
    429: {"description": "quota or concurrency limit; see Retry-After"},
    502: {"description": "the upstream model server failed"},
    503: {"description": "overloaded, sealed, or the ledger cannot record"},
}


def _gateway(request: Request) -> Gateway:
    gateway: Gateway = request.app.state.instance.ai
    return gateway


@router.post("/chat/completions", responses=_ERRORS,
             summary="Chat completion (OpenAI-compatible; stream with SSE)")
async def chat_completions(body: wire.ChatCompletionRequest, caller: ChatUser,
                           request: Request) -> Response:
    answer = await chat_answer(body, caller, request)
    if isinstance(answer, Response):
        return answer
    return Response(answer.content, media_type="application/json",
                    headers={"x-request-id": answer.request_id})


@dataclass(frozen=True, slots=True)
class CompletedChat:
    """A finished (not streamed) answer, its outcome durable: the 200's body and id."""

    request_id: str
    content: bytes


async def chat_answer(body: wire.ChatCompletionRequest, caller: Caller,
                      request: Request) -> CompletedChat | StreamingResponse:
    """The chat operation, shared by the declared route and the hot path (ADR 0606):
    govern and record, then the finished answer, or the stream to send."""
    gateway = _gateway(request)
    prepared = await gateway.prepare_chat(caller, body.to_domain(gateway.settings),
                                          decision=deferred_decision(request))
    if not body.stream:
        result = await gateway.complete(prepared)
        return CompletedChat(prepared.request_id, wire.completion_body(prepared, result))
    usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(_events(gateway, prepared, include_usage=usage),
                             media_type="text/event-stream",
                             headers={"x-request-id": prepared.request_id,
                                      "cache-control": "no-cache"})


async def _events(gateway: Gateway, prepared: PreparedChat, *,
                  include_usage: bool) -> AsyncIterator[bytes]:
    yield wire.chunk_event(prepared, {"role": "assistant", "content": ""}, None)
    try:
        async with aclosing(gateway.stream(prepared)) as deltas:
            async for delta in deltas:
                if delta.text:
                    yield wire.chunk_event(prepared, {"content": delta.text}, None)
                if delta.finish_reason is not None:
                    yield wire.chunk_event(prepared, {}, delta.finish_reason,
                                           extra=wire.sovra_extra(prepared))
                    if include_usage:
                        yield wire.usage_event(prepared, delta.prompt_tokens or 0,
                                               delta.completion_tokens or 0)
    except SovraError as exc:
        # Headers are gone already: report in-band the way OpenAI clients read it.
        yield wire.error_event(type(exc).__name__, str(exc), status_for(exc))
        return
    yield wire.DONE_EVENT


@router.post("/embeddings", responses=_ERRORS, summary="Embeddings (OpenAI-compatible)")
async def embeddings(body: wire.EmbeddingRequest, caller: ModelUser,
                     request: Request) -> JSONResponse:
    request_id, vectors, tokens = await _gateway(request).embed(caller, body.model,
                                                                body.inputs())
    if body.dimensions is not None and vectors and len(vectors[0]) != body.dimensions:
        # Cutting a vector short is only meaningful for models trained for it
        # (Matryoshka); this one is not, so the request is refused, not silently ignored.
        raise InvalidInputError(
            f"{body.model} produces {len(vectors[0])}-dimensional vectors and cannot give "
            f"{body.dimensions}; omit dimensions (LangChain, LlamaIndex: leave it unset)")
    return JSONResponse(wire.embeddings_body(body.model, vectors, tokens,
                                             encoding=body.encoding_format),
                        headers={"x-request-id": request_id})


@router.get("/models", responses=_ERRORS, summary="Approved models (OpenAI-compatible)")
def list_models(_caller: ModelUser, request: Request) -> dict[str, object]:
    return wire.models_body(_gateway(request).registry.list(approved_only=True))


@router.get("/sovra/trace/{request_id}", responses=_ERRORS, tags=["sovra"],
            summary="A request's lineage with the ledger entries' inclusion proofs")
async def get_trace(request_id: str, caller: Tracer, request: Request) -> dict[str, Any]:
    # The dependency decides on the route; the gateway decides again with the request's
    # classification, which only the ledger entry knows (the documents' clearance rule).
    return (await _gateway(request).trace(caller, request_id)).as_dict()


class RegisterModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str = Field(min_length=1, max_length=128)
    kind: str = "chat"
    locality: str = "on_premises"
    sha256: str = Field(min_length=64, max_length=64)
    source: str = Field(min_length=1, max_length=1024)
    licence: str = Field(min_length=1, max_length=128)
    ceiling: str = "internal"
    weights_path: str | None = None
    upstream_url: str | None = Field(default=None, max_length=2048)
    upstream_model: str | None = Field(default=None, max_length=256)


class CollectionAIPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid")
    keep_text: bool = Field(description="Keep prompt and answer text (encrypted) for "
                            "requests that retrieve from this collection")


# Anyone who may read the collection may ask; whether it may change the policy is
# decided below with the collection's owner (issue 13: not ``collections.create``, which
# any analyst holds).
CollectionReader = Annotated[Caller, Depends(authorized(
    "collections.read", "Collection", resource_id_param="collection_id"))]


@router.put("/sovra/collections/{collection_id}/ai-policy", responses=_ERRORS, tags=["sovra"],
            summary="Whether AI requests over this collection keep their text (encrypted)")
def set_collection_ai_policy(collection_id: str, body: CollectionAIPolicy,
                             caller: CollectionReader, request: Request) -> dict[str, object]:
    instance = request.app.state.instance
    collection = instance.data.get_collection(collection_id)  # 404 if there is none
    # collections.set_ai_policy, granted to the collection's owner (its creator) by
    # policy/default/50-users.cedar; decided and recorded before anything changes.
    instance.policy.require(caller, "collections.set_ai_policy", Resource(
        "Collection", collection.id, {"owner": collection.created_by,
                                      "jurisdiction": collection.spec.jurisdiction,
                                      "legal_hold": collection.legal_hold}))
    _gateway(request).set_text_policy(caller, collection_id, keep_text=body.keep_text)
    return {"collection_id": collection_id, "keep_text": body.keep_text}


class ApproveModel(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ceiling: str | None = None


@router.post("/sovra/models", responses=_ERRORS, tags=["sovra"], status_code=201,
             summary="Register a model (unapproved until an approver approves it)")
def register_model(body: RegisterModel, caller: Registrar, request: Request
                   ) -> dict[str, object]:
    spec = ModelSpec(model_id=body.id, kind=body.kind, locality=body.locality,  # type: ignore[arg-type]
                     sha256=body.sha256, source=body.source, licence=body.licence,
                     ceiling=body.ceiling, weights_path=body.weights_path,
                     upstream_url=body.upstream_url, upstream_model=body.upstream_model)
    record = _gateway(request).registry.register(caller, spec)
    return wire.models_body([record])["data"][0]  # type: ignore[index,no-any-return]


@router.post("/sovra/models/{model_id:path}/approve", responses=_ERRORS, tags=["sovra"],
             summary="Approve a registered model for a classification ceiling")
def approve_model(model_id: str, body: ApproveModel, caller: Approver, request: Request
                  ) -> dict[str, object]:
    record = _gateway(request).registry.approve(caller, model_id, ceiling=body.ceiling)
    return wire.models_body([record])["data"][0]  # type: ignore[index,no-any-return]
