"""The chat playground and the cited passage (the pure parts are
``sovra.console.chat``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sovra.console import chat
from sovra.console.forms import base_of, number
from sovra.console.guard import field

if TYPE_CHECKING:
    from sovra.console.pages import Console


async def form(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("models.use", "Model")
    models = [m for m in await run_in_threadpool(console.instance.ai.registry.list,
                                                 approved_only=True)
              if m.spec.kind == "chat"]
    collections = await run_in_threadpool(console.instance.data.list_collections,
                                          found.caller)
    return console.render(request, "chat.html", found=found, models=models,
                          collections=collections)


async def ask(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    sent = await request.form()
    found.check_csrf(sent)
    model = field(sent, "model", max_length=200, required=True)
    question = field(sent, "question", max_length=4000, required=True)
    chosen = tuple(field({"c": c}, "c", max_length=200) for c in sent.getlist("collections"))
    await found.require("models.use", "Model")
    def render(request_id: str) -> str:
        page = console.render(request, "chat_answer.html", found=found, model=model,
                              question=question, collections=chosen, mark=chat.MARK,
                              request_id=request_id)
        return bytes(page.body).decode()

    # The page is sent inside the gateway's chat block, which owns the request (ADR 0609).
    return chat.ChatPage(console.instance.ai, found.caller,
                         chat.request_of(model, question, chosen), render=render,
                         base=base_of(request),
                         on_error=lambda exc: console.error(request, exc, found))


async def passage(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    document_id = str(request.path_params["document_id"])
    # The API's door for GET /data/documents/{id}; the data room decides the rest.
    await found.require("documents.read", "Document", document_id)
    chunk = number(field(request.query_params, "chunk", max_length=10) or "0", "chunk")
    version_text = field(request.query_params, "version", max_length=10)
    info, name, text = await run_in_threadpool(console.instance.data.read_document,
                                               found.caller, document_id)
    config = console.instance.data.core.config
    return console.render(request, "passage.html", found=found, info=info, name=name,
                          chunk=chunk, version=number(version_text, "version")
                          if version_text else None,
                          passage=chat.passage_of(text, chunk, config.chunk_size,
                                                  config.chunk_overlap))
