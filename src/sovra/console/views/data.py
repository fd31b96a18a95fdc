"""Data: collections and documents with classification, retention and holds; erasure by
data subject, answered with the signed certificate as a download."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sovra.console.forms import safe_name
from sovra.console.guard import field

if TYPE_CHECKING:
    from sovra.console.pages import Console


async def collections(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("collections.read", "Collection")
    data = console.instance.data
    listed = await run_in_threadpool(data.list_collections, found.caller)
    chosen = field(request.query_params, "collection", max_length=200)
    documents = None
    if chosen:
        await found.require("collections.read", "Collection", chosen)
        documents = await run_in_threadpool(data.list_documents, found.caller, chosen)
    return console.render(request, "data.html", found=found, collections=listed,
                          chosen=chosen, documents=documents,
                          may_erase=found.may("collections.erase", "Collection"))


async def erase(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    subject = field(form, "subject", max_length=512, required=True)
    await found.require("collections.erase", "Collection")
    certificate = await run_in_threadpool(console.instance.data.erase_subject, found.caller,
                                          subject)
    name = f"erasure-certificate-{json.loads(certificate).get('id', 'subject')}.json"
    return Response(certificate, media_type="application/json", headers={
        "content-disposition": f'attachment; filename="{safe_name(name)}"'})
