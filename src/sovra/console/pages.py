"""The console as a Starlette app mounted at ``/console`` by ``sovra.api``: the
``Console`` (instance, sessions, templates, rendering, error pages) and its routes. The
pages themselves are in ``sovra.console.views``, one module per area.

Thin like the API's routers: each page finds the visit (session, caller), requires the
action its API twin declares, calls one service function, renders a template. Errors
become pages that say what happened and what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sovra.console.dashboard import sections
from sovra.console.forms import base_of
from sovra.console.guard import SecurityHeaders, Visit, visit
from sovra.console.oidc import CALLBACK, OidcClient, OidcLogin
from sovra.console.sessions import SessionStore
from sovra.console.views import (
    analytics,
    approvals,
    chat,
    data,
    ledger,
    login,
    policy,
    reports,
    threat,
)
from sovra.errors import AuthenticationError, SovraError
from sovra.instance import Instance

log = logging.getLogger(__name__)
_STATIC = Path(__file__).parent / "static"
_ADVICE = {
    400: "Correct the value named above and submit the form again.",
    401: "Log in again with your API key.",
    403: "Ask an administrator for a role that allows it; the refusal is in the ledger.",
    404: "Check the number or name; go back to the list and pick it from there.",
    409: "Reload the page: someone else changed it meanwhile.",
    429: "Wait a minute before trying again.",
    503: "The server cannot record or serve this now (sealed, or the ledger is "
         "unavailable): ask an operator to check `sovra status`.",
}
# The header's links: shown only where policy would allow the page (the page itself
# decides again and records).
_NAV = (("Approvals", "lockbox.read", "AccessRequest", "/approvals"),
        ("Ledger", "ledger.read", "Ledger", "/ledger"),
        ("Data", "collections.read", "Collection", "/data"),
        ("Policy", "policy.read", "Policy", "/policy"),
        ("Reports", "compliance.read", "Compliance", "/reports"),
        ("Threat", "threat.read", "Threat", "/threat"),
        ("Analytics", "analytics.query", "Collection", "/analytics"),
        ("Chat", "models.use", "Model", "/chat"))

# Pages open to a second kind of reader: assessors see Reports, approvers Analytics.
_OR_ELSE = {"/reports": ("assessment.run", "Assessment"),
            "/analytics": ("export.read", "Export")}

Page = Callable[["Console", Request], Awaitable[Response]]


class Console:
    """The console's state: the instance, sessions, templates and the optional
    identity-provider login."""

    def __init__(self, instance: Instance, sessions: SessionStore | None = None) -> None:
        self.instance = instance
        self.sessions = sessions or SessionStore()
        client = OidcClient.from_settings(instance.settings)
        self.oidc = OidcLogin(client) if client is not None else None
        self.templates = Environment(loader=PackageLoader("sovra.console", "templates"),
                                     autoescape=select_autoescape(default=True),
                                     auto_reload=False)

    async def visit(self, request: Request) -> Visit:
        return await visit(request, self.instance, self.sessions)

    def render(self, request: Request, template: str, /, code: int = 200,
               found: Visit | None = None, **values: Any) -> HTMLResponse:
        base = base_of(request)
        nav: list[tuple[str, str]] = []
        if found is not None:
            nav = [("Dashboard", f"{base}/")]
            for label, action, kind, path in _NAV:
                other = _OR_ELSE.get(path)
                if found.may(action, kind) or (other is not None and found.may(*other)):
                    nav.append((label, base + path))
        html = self.templates.get_template(template).render(
            base=base, visit=found, nav=nav, csrf=found.session.csrf if found else "",
            path=request.url.path, **values)
        return HTMLResponse(html, status_code=code)

    def error(self, request: Request, exc: SovraError, found: Visit | None = None
              ) -> Response:
        from sovra.api import status_for

        status = status_for(exc)
        if isinstance(exc, AuthenticationError) and request.method == "GET":
            return RedirectResponse(f"{base_of(request)}/login?next={request.url.path}", 303)
        reasons = getattr(exc, "reasons", ())
        return self.render(request, "error.html", status, found, status=status,
                           kind=type(exc).__name__, message=str(exc), reasons=reasons,
                           advice=_ADVICE.get(status, "Go back and try again."))

    async def dashboard(self, request: Request) -> Response:
        found = await self.visit(request)
        return self.render(request, "dashboard.html", found=found,
                           sections=await sections(found))


def _handler(console: Console, page: Page) -> Callable[[Request], Awaitable[Response]]:
    async def endpoint(request: Request) -> Response:
        try:
            return await page(console, request)
        except SovraError as exc:
            found = None
            if not isinstance(exc, AuthenticationError):
                try:
                    found = await console.visit(request)
                except SovraError:
                    found = None
            return console.error(request, exc, found)
        except Exception:
            # A defect, not bad input: the log has the traceback, the person a page.
            log.exception("console page %s failed", request.url.path)
            return console.render(request, "error.html", 500, status=500,
                                  kind="Internal error", message="the page failed "
                                  "unexpectedly: a defect in Sovra, not in your input",
                                  reasons=(),
                                  advice="Try again; if it fails again, give the time "
                                  "and the page's address to an operator (the server "
                                  "log has the details).")
    return endpoint


def console_app(instance: Instance, sessions: SessionStore | None = None) -> Starlette:
    """The console as an ASGI app, to mount at ``/console``."""
    console = Console(instance, sessions)

    def route(path: str, page: Page, methods: list[str]) -> Route:
        return Route(path, _handler(console, page), methods=methods)

    app = Starlette(routes=[
        route("/", Console.dashboard, ["GET"]),
        route("/login", login.login, ["GET", "POST"]),
        route("/logout", login.logout, ["POST"]),
        route("/oidc/login", login.oidc_start, ["GET"]),
        route(CALLBACK, login.oidc_callback, ["GET"]),
        route("/approvals", approvals.inbox, ["GET"]),
        route("/approvals/lockbox/{request_id}/{verb:str}", approvals.vote, ["POST"]),
        route("/approvals/policy/{version}/approve", approvals.approve_policy, ["POST"]),
        route("/approvals/models/{model_id:path}/approve", approvals.decide_model, ["POST"]),
        route("/approvals/bundles/{bundle_id}/{verb:str}", approvals.decide_bundle,
              ["POST"]),
        route("/approvals/changes/{change_id}/{verb:str}", approvals.decide_change,
              ["POST"]),
        route("/grants/{grant_id}/watch", approvals.watch, ["GET"]),
        route("/grants/{grant_id}/terminate", approvals.terminate, ["POST"]),
        route("/ledger", ledger.search, ["GET"]),
        route("/ledger/traces", ledger.trace_form, ["GET"]),
        route("/ledger/traces/{request_id}", ledger.trace, ["GET"]),
        route("/ledger/{seq}", ledger.entry, ["GET"]),
        route("/data", data.collections, ["GET"]),
        route("/data/erasures", data.erase, ["POST"]),
        route("/policy", policy.versions, ["GET"]),
        route("/policy/test", policy.test, ["POST"]),
        route("/reports", reports.listing, ["GET"]),
        route("/reports/{kind}", reports.create, ["POST"]),
        route("/reports/{kind}/{seq}.{format}", reports.download, ["GET"]),
        route("/reports/{kind}/{seq}", reports.show, ["GET"]),
        route("/threat", threat.alerts, ["GET"]),
        route("/threat/alerts/{alert_id}/{verb:str}", threat.triage, ["POST"]),
        route("/analytics", analytics.page, ["GET"]),
        route("/analytics/query", analytics.query, ["POST"]),
        route("/analytics/exports/{export_id}/approve", analytics.approve_export, ["POST"]),
        route("/chat", chat.form, ["GET"]),
        route("/chat", chat.ask, ["POST"]),
        route("/passages/{document_id}", chat.passage, ["GET"]),
        Mount("/static", StaticFiles(directory=_STATIC), name="console-static"),
    ])
    app.state.console = console
    app.add_middleware(SecurityHeaders)
    return app


__all__ = ["Console", "console_app"]
