"""Analytics: a governed query (the masks and the classification shown with the rows)
and the exports awaiting their second approval, approved from the page. The analytics
and export services decide and record; the requester never approves (built in there,
shown here)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sovra.console.forms import done, number
from sovra.console.guard import Visit, field

if TYPE_CHECKING:
    from sovra.console.pages import Console

ROWS_SHOWN = 200


async def _exports(console: Console, found: Visit) -> object:
    if not found.may("export.read", "Export"):
        return None
    await found.require("export.read", "Export")
    listed = await run_in_threadpool(console.instance.exports.list_exports, found.caller)
    return [e for e in listed if e.state == "pending"]


async def page(console: Console, request: Request) -> Response:
    """The query form for those who may query; the exports for those who may read them
    (approvers do not query); a refusal, recorded, for anyone else."""
    found = await console.visit(request)
    may_query = found.may("analytics.query", "Collection")
    if may_query or not found.may("export.read", "Export"):
        await found.require("analytics.query", "Collection")
    return console.render(request, "analytics.html", found=found, result=None, sql="",
                          may_query=may_query, exports=await _exports(console, found),
                          done=request.query_params.get("done", ""))


async def query(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    sql = field(form, "sql", max_length=20_000, required=True)
    max_rows = number(field(form, "max_rows", max_length=6) or str(ROWS_SHOWN), "max_rows")
    # The API's door (POST /analytics/query), then the service governs the query.
    await found.require("analytics.query", "Collection")
    result = await run_in_threadpool(lambda: console.instance.analytics.query(
        found.caller, sql, max_rows=min(max_rows, ROWS_SHOWN)))
    # The service names masked columns by table (hr.staff.iban); the header by name.
    masked = {m.rsplit(".", 1)[-1] for m in result.masked}
    return console.render(request, "analytics.html", found=found, result=result, sql=sql,
                          masked=masked, may_query=True,
                          exports=await _exports(console, found), done="")


async def approve_export(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    found.check_csrf(await request.form())
    export_id = field({"e": str(request.path_params["export_id"])}, "e", max_length=64)
    # The API's door (POST /analytics/exports/{id}/approve), then the service, which
    # refuses the requester and a second vote by the same person.
    await found.require("export.read", "Export")
    info = await run_in_threadpool(console.instance.exports.approve, found.caller, export_id)
    return done(request, "/analytics",
                f"approved export {info.id}: {len(info.approvers)} of 2 ({info.state})")
