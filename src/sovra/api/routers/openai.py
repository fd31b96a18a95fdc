"""The OpenAI-compatible surface: /v1/chat/completions, /v1/embeddings, /v1/models,
and Sovra's own /v1/sovra/* (trace, model registration and approval).

Thin edge (house style 11): parse, call the gateway, render. The chat route is
declared here and served by the one chat edge, ``openai_hot.serve_chat`` (ADR 0609).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.types import Receive, Scope, Send

from sovra.ai import Gateway, ModelSpec, wire
from sovra.api.auth import Caller, authorized
from sovra.api.routers.openai_hot import CHAT_AUTH, invalid_problems, serve_chat
from sovra.api.validation import text_problem
from sovra.errors import InvalidInputError, SovraError
from sovra.policy import Resource


class _RecordedRoute(APIRoute):
    """Bad input is recorded too (issue 7, "Bad input"): a body that does not parse or
    validate is answered 400 by FastAPI before the endpoint runs, so the route records
    it here for an authenticated caller, through the gateway's one record of an invalid
    body. Unauthenticated junk is not recorded as an AI request: it never got past the
    door, and identity records failed credentials."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def recorded(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                await _record_invalid(request, exc)
                raise

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
    await _gateway(request).record_invalid(caller, None, path, invalid_problems(exc))


class _ServedByTheChatEdge(Response):
    """Hands the request to the one chat edge (``openai_hot.serve_chat``), which sends
    the answer itself."""

    def __init__(self) -> None:
        super().__init__()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await serve_chat(scope, receive, send)


class _ChatEdgeRoute(APIRoute):
    """The declared chat route: its signature documents the operation (OpenAPI) and its
    door (the route-protection test); it is served by the same edge as the hot path,
    without FastAPI's dependency solving or body parsing, so the two cannot differ."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        async def handler(_request: Request) -> Response:
            return _ServedByTheChatEdge()

        return handler


router = APIRouter(prefix="/v1", tags=["openai"], route_class=_RecordedRoute)

ModelUser = Annotated[Caller, Depends(authorized("models.use", "Model"))]
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


async def chat_completions(body: wire.ChatCompletionRequest, caller: ChatUser
                           ) -> Response:  # pragma: no cover - never called
    """The declaration only: ``_ChatEdgeRoute`` serves it with ``serve_chat``."""
    raise NotImplementedError("served by sovra.api.routers.openai_hot.serve_chat")


router.add_api_route("/chat/completions", chat_completions, methods=["POST"],
                     responses=_ERRORS, route_class_override=_ChatEdgeRoute,
                     summary="Chat completion (OpenAI-compatible; stream with SSE)")


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
