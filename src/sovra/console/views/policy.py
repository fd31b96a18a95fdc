"""Policy: the versions, a diff between two, and ``policy test`` cases run against a
chosen version (the pure parts are ``sovra.console.policy_page``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sovra.console import policy_page
from sovra.console.forms import number
from sovra.console.guard import Visit, field

if TYPE_CHECKING:
    from sovra.console.pages import Console


async def versions(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("policy.read", "Policy")
    return await _page(console, request, found)


async def _page(console: Console, request: Request, found: Visit, **extra: Any) -> Response:
    listed = await run_in_threadpool(console.instance.policy.versions)
    by_number = {v.version: v for v in listed}
    params = request.query_params
    newest = listed[-1].version if listed else 0
    first = number(field(params, "a", max_length=10) or str(max(1, newest - 1)), "a")
    second = number(field(params, "b", max_length=10) or str(newest), "b")
    shown = ""
    if first in by_number and second in by_number:
        shown = policy_page.diff(by_number[first], by_number[second])
    return console.render(request, "policy.html", found=found, versions=listed,
                          a=first, b=second, diff=shown,
                          cases=extra.pop("cases", policy_page.EXAMPLE_CASES), **extra)


async def test(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    version = number(field(form, "version", max_length=10, required=True), "version")
    cases = field(form, "cases", max_length=policy_page.MAX_CASES_BYTES, required=True)
    await found.require("policy.read", "Policy", str(version))
    chosen = await run_in_threadpool(console.instance.policy.get, version)
    report = await run_in_threadpool(policy_page.run, chosen, cases)
    return await _page(console, request, found, report=report, tested=version, cases=cases)
