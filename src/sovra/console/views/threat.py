"""Threat triage: the alerts, acknowledged or closed with a reason from the page. The
threat service decides (``threat.read``, ``threat.triage``) and records each step."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from sovra.console.forms import done
from sovra.console.guard import field
from sovra.errors import NotFoundError

if TYPE_CHECKING:
    from sovra.console.pages import Console

STATUSES = ("", "open", "acknowledged", "closed")


async def alerts(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    await found.require("threat.read", "Threat")
    status = field(request.query_params, "status", max_length=16)
    threat = console.instance.threat
    listed = await run_in_threadpool(threat.list_alerts, found.caller, status or None)
    return console.render(request, "threat.html", found=found, alerts=listed, status=status,
                          statuses=STATUSES, done=request.query_params.get("done", ""),
                          may_triage=found.may("threat.triage", "Threat"))


async def triage(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    form = await request.form()
    found.check_csrf(form)
    alert_id = field({"a": str(request.path_params["alert_id"])}, "a", max_length=128)
    verb = str(request.path_params["verb"])
    if verb not in ("ack", "close"):
        raise NotFoundError(f"no such triage step {verb!r}: ack or close")
    # The API's door (POST /alerts/{id}/ack or /close), then the service decides again.
    await found.require("threat.triage", "Threat", alert_id)
    threat = console.instance.threat
    if verb == "ack":
        alert = await run_in_threadpool(threat.ack, found.caller, alert_id)
        return done(request, "/threat", f"acknowledged {alert.id} ({alert.status})")
    reason = field(form, "reason", required=True)
    alert = await run_in_threadpool(threat.close_alert, found.caller, alert_id, reason)
    return done(request, "/threat", f"closed {alert.id} ({alert.status}): {reason}")
