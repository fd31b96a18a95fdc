"""The ledger explorer: search (keyset pages), one entry with its proof verified, and a
chat request's trace (request, decision, retrieval, response, each proof verified)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sovra.console import explorer, tracing
from sovra.console.forms import base_of, number
from sovra.console.guard import field

if TYPE_CHECKING:
    from sovra.console.pages import Console


async def search(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("ledger.read", "Ledger")
    params = request.query_params
    before = field(params, "before", max_length=20)
    query = explorer.Query(
        principal=field(params, "principal", max_length=256),
        action=field(params, "action", max_length=128),
        resource=field(params, "resource", max_length=512),
        since=explorer.parse_time(field(params, "since", max_length=40)),
        until=explorer.parse_time(field(params, "until", max_length=40)),
        before=number(before, "before") if before else None)
    page = await run_in_threadpool(explorer.search, console.instance.engine,
                                   console.instance.ledger, query)
    older = None
    if page.older is not None:
        older = str(URL(request.url.path).include_query_params(
            **{**dict(params), "before": page.older}))
    template = "ledger_rows.html" if request.headers.get("hx-request") else "ledger.html"
    return console.render(request, template, found=found, page=page, params=params,
                          older=older, size=console.instance.ledger.size)


async def entry(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("ledger.read", "Ledger")
    seq = number(str(request.path_params["seq"]), "entry number")
    checked = await run_in_threadpool(explorer.verify_entry, console.instance.ledger, seq)
    details = checked.entry.get("details")
    request_id = details.get("request_id") if isinstance(details, dict) else None
    return console.render(request, "entry.html", found=found, checked=checked,
                          entry_json=json.dumps(checked.entry, indent=2, sort_keys=True),
                          request_id=request_id if isinstance(request_id, str) else None)


async def trace_form(console: Console, request: Request) -> Response:
    """``?request_id=`` from the search form, sent on to the trace's own address."""
    found = await console.visit(request)
    request_id = field(request.query_params, "request_id", max_length=128, required=True)
    del found
    return RedirectResponse(f"{base_of(request)}/ledger/traces/{request_id}", 303)


async def trace(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    request_id = field({"r": str(request.path_params["request_id"])}, "r", max_length=128,
                       required=True)
    # The API's door (GET /v1/sovra/trace/{id}: ai.trace on the Trace), then the
    # gateway decides again on the request's classification before reading it back.
    await found.require("ai.trace", "Trace", request_id)
    traced = await console.instance.ai.trace(found.caller, request_id)
    shown = await run_in_threadpool(tracing.show, traced, console.instance.engine,
                                    console.instance.ledger)
    return console.render(request, "trace.html", found=found, shown=shown,
                          steps=[(s, json.dumps(s.entry, indent=2, sort_keys=True))
                                 for s in shown.steps])
