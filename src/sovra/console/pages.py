"""The console's pages: a Starlette app mounted at ``/console`` by ``sovra.api``.

Thin like the API's routers: each page finds the visit (session, caller), requires the
action its API twin declares, calls one service function, renders a template. Forms
carry the session's CSRF token; a form answer redirects (303) so reloading repeats
nothing. Errors become pages that say what happened and what to do.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from sovra.console import chat, explorer, policy_page, watching
from sovra.console.dashboard import sections
from sovra.console.guard import (
    LOGIN_COOKIE,
    SESSION_COOKIE,
    SecurityHeaders,
    Visit,
    client_of,
    field,
    new_login_token,
    same_token,
    set_cookie,
    visit,
)
from sovra.console.sessions import SessionStore
from sovra.errors import AuthenticationError, NotFoundError, RateLimitedError, SovraError
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


class Console:
    """The console's state: the instance, sessions and templates."""

    def __init__(self, instance: Instance, sessions: SessionStore | None = None) -> None:
        self.instance = instance
        self.sessions = sessions or SessionStore()
        self.templates = Environment(loader=PackageLoader("sovra.console", "templates"),
                                     autoescape=select_autoescape(default=True),
                                     auto_reload=False)

    # -- rendering ------------------------------------------------------------------

    def render(self, request: Request, template: str, /, code: int = 200,
               found: Visit | None = None, **values: Any) -> HTMLResponse:
        base = request.scope.get("root_path", "")
        nav: list[tuple[str, str]] = []
        if found is not None:
            nav = [("Dashboard", f"{base}/")]
            for label, action, kind, path in (
                    ("Approvals", "lockbox.read", "AccessRequest", "/approvals"),
                    ("Ledger", "ledger.read", "Ledger", "/ledger"),
                    ("Data", "collections.read", "Collection", "/data"),
                    ("Policy", "policy.read", "Policy", "/policy"),
                    ("Chat", "models.use", "Model", "/chat")):
                if found.may(action, kind):
                    nav.append((label, base + path))
        html = self.templates.get_template(template).render(
            base=base, visit=found, nav=nav, csrf=found.session.csrf if found else "",
            path=request.url.path, **values)
        return HTMLResponse(html, status_code=code)

    def error(self, request: Request, exc: SovraError, found: Visit | None = None
              ) -> Response:
        from sovra.api.errors import status_for

        status = status_for(exc)
        if isinstance(exc, AuthenticationError) and request.method == "GET":
            base = request.scope.get("root_path", "")
            return RedirectResponse(f"{base}/login?next={request.url.path}", 303)
        reasons = getattr(exc, "reasons", ())
        return self.render(request, "error.html", status, found, status=status,
                           kind=type(exc).__name__, message=str(exc), reasons=reasons,
                           advice=_ADVICE.get(status, "Go back and try again."))

    # -- login ----------------------------------------------------------------------

    async def login_form(self, request: Request, message: str = "", status: int = 200
                         ) -> Response:
        token = new_login_token()
        response = self.render(request, "login.html", status, login_csrf=token,
                               message=message, next=_next(request))
        set_cookie(response, request, LOGIN_COOKIE, token,
                   base=request.scope.get("root_path", ""), max_age=600)
        return response

    async def login(self, request: Request) -> Response:
        if request.method == "GET":
            return await self.login_form(request)
        form = await request.form()
        if not same_token(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
            return await self.login_form(request, "The login form had expired or came "
                                         "from another page: enter your key again.", 403)
        try:
            key = field(form, "api_key", max_length=512, required=True)
            caller = await run_in_threadpool(self.instance.identity.authenticate,
                                             f"Bearer {key}", client_of(request))
        except RateLimitedError as exc:
            return await self.login_form(request, f"{exc} Wait before trying again.", 429)
        except SovraError as exc:
            return await self.login_form(request, f"That API key was not accepted ({exc}). "
                                         "Check it, or ask an administrator for a new one "
                                         "(sovra apikey create).", 401)
        session = self.sessions.open(key)
        await self.instance.ledger.append_async(
            caller.principal_id, "console.login", "console", "success",
            {"credential": caller.via, "client_ip": client_of(request)})
        base = request.scope.get("root_path", "")
        response = RedirectResponse(_safe_next(base, _next(request, form.get("next"))), 303)
        set_cookie(response, request, SESSION_COOKIE, session.id, base=base)
        response.delete_cookie(LOGIN_COOKIE, path=base or "/")
        return response

    async def logout(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        found.check_csrf(await request.form())
        self.sessions.close(found.session.id)
        await self.instance.ledger.append_async(found.caller.principal_id, "console.logout",
                                                "console", "success",
                                                {"client_ip": found.client})
        base = request.scope.get("root_path", "")
        response = RedirectResponse(f"{base}/login", 303)
        response.delete_cookie(SESSION_COOKIE, path=base or "/")
        return response

    # -- pages ----------------------------------------------------------------------

    async def dashboard(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        return self.render(request, "dashboard.html", found=found,
                           sections=await sections(found))

    async def approvals(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        await found.require("lockbox.read", "AccessRequest")
        lockbox = self.instance.lockbox
        status = await run_in_threadpool(lockbox.status)
        proposals = changes = None
        if found.may("policy.read", "Policy"):
            await found.require("policy.read", "Policy")
            proposals = [v for v in await run_in_threadpool(self.instance.policy.versions)
                         if v.status == "proposed"]
        if found.may("principals.approve", "Principal"):
            await found.require("principals.approve", "Principal")
            changes = await run_in_threadpool(self.instance.identity.changes.list_changes,
                                              "pending")
        return self.render(request, "approvals.html", found=found, pending=status.pending,
                           active=status.active, findings=status.findings,
                           proposals=proposals, changes=changes,
                           done=request.query_params.get("done", ""))

    async def vote(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        form = await request.form()
        found.check_csrf(form)
        request_id = str(request.path_params["request_id"])
        verb = str(request.path_params["verb"])
        if verb not in ("approve", "deny"):
            raise NotFoundError(f"no such vote {verb!r}: approve or deny")
        reason = field(form, "reason", required=True)
        # The API's door for votes (POST /lockbox/requests/{id}/approve), then the
        # service decides the vote itself and records it.
        await found.require("lockbox.read", "AccessRequest")
        act = self.instance.lockbox.approve if verb == "approve" else self.instance.lockbox.deny
        done = await run_in_threadpool(lambda: act(found.caller, request_id,
                                                   source=found.client, comment=reason))
        base = request.scope.get("root_path", "")
        state = self.instance.lockbox.state(done).value
        return RedirectResponse(f"{base}/approvals?done={verb}d+{done.id}+({state})", 303)

    async def ledger(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        await found.require("ledger.read", "Ledger")
        params = request.query_params
        before = field(params, "before", max_length=20)
        query = explorer.Query(
            principal=field(params, "principal", max_length=256),
            action=field(params, "action", max_length=128),
            resource=field(params, "resource", max_length=512),
            since=explorer.parse_time(field(params, "since", max_length=40)),
            until=explorer.parse_time(field(params, "until", max_length=40)),
            before=_int(before, "before") if before else None)
        page = await run_in_threadpool(explorer.search, self.instance.engine,
                                       self.instance.ledger, query)
        older = None
        if page.older is not None:
            older = str(URL(request.url.path).include_query_params(
                **{**dict(params), "before": page.older}))
        template = "ledger_rows.html" if request.headers.get("hx-request") else "ledger.html"
        return self.render(request, template, found=found, page=page, params=params,
                           older=older, size=self.instance.ledger.size)

    async def entry(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        await found.require("ledger.read", "Ledger")
        seq = _int(str(request.path_params["seq"]), "entry number")
        checked = await run_in_threadpool(explorer.verify_entry, self.instance.ledger, seq)
        return self.render(request, "entry.html", found=found, checked=checked,
                           entry_json=json.dumps(checked.entry, indent=2, sort_keys=True))

    async def data(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        await found.require("collections.read", "Collection")
        data = self.instance.data
        collections = await run_in_threadpool(data.list_collections, found.caller)
        chosen = field(request.query_params, "collection", max_length=200)
        documents = None
        if chosen:
            await found.require("collections.read", "Collection", chosen)
            documents = await run_in_threadpool(data.list_documents, found.caller, chosen)
        return self.render(request, "data.html", found=found, collections=collections,
                           chosen=chosen, documents=documents,
                           may_erase=found.may("collections.erase", "Collection"))

    async def erase(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        form = await request.form()
        found.check_csrf(form)
        subject = field(form, "subject", max_length=512, required=True)
        await found.require("collections.erase", "Collection")
        certificate = await run_in_threadpool(self.instance.data.erase_subject, found.caller,
                                              subject)
        name = f"erasure-certificate-{json.loads(certificate).get('id', 'subject')}.json"
        return Response(certificate, media_type="application/json", headers={
            "content-disposition": f'attachment; filename="{_safe_name(name)}"'})

    async def watch(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        grant_id = field({"g": str(request.path_params["grant_id"])}, "g", max_length=64)
        # The API's door (GET /lockbox/grants/{id}/events); the lockbox decides the rest.
        await found.require("lockbox.watch", "AccessRequest")
        lockbox = self.instance.lockbox
        watch = await run_in_threadpool(lambda: lockbox.watch_grant(
            found.caller, grant_id, source=found.client))
        try:
            req = await run_in_threadpool(lockbox.get, grant_id)
            page = self.render(request, "watch.html", found=found, req=req,
                               mark=watching.MARK)
        except BaseException:
            watch.close()
            raise
        return StreamingResponse(watching.stream_watch(lockbox, watch,
                                                       bytes(page.body).decode(), request),
                                 media_type="text/html; charset=utf-8")

    async def terminate(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        form = await request.form()
        found.check_csrf(form)
        grant_id = str(request.path_params["grant_id"])
        reason = field(form, "reason", required=True)
        # The API's door (POST /lockbox/requests/{id}/revoke), then the service.
        await found.require("lockbox.read", "AccessRequest")
        done = await run_in_threadpool(lambda: self.instance.lockbox.revoke(
            found.caller, grant_id, reason=reason))
        base = request.scope.get("root_path", "")
        state = self.instance.lockbox.state(done).value
        return RedirectResponse(f"{base}/approvals?done=terminated+{done.id}+({state})", 303)

    async def approve_policy(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        found.check_csrf(await request.form())
        version = _int(str(request.path_params["version"]), "version")
        # The API's door (POST /policy/versions/{version}/approve), then the service.
        await found.require("policy.approve", "Policy", str(version))
        done = await run_in_threadpool(self.instance.policy.approve, found.caller, version)
        base = request.scope.get("root_path", "")
        return RedirectResponse(f"{base}/approvals?done=approved+policy+version+"
                                f"{done.version}+({done.status})", 303)

    async def policy(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        await found.require("policy.read", "Policy")
        return await self._policy_page(request, found)

    async def _policy_page(self, request: Request, found: Visit, **extra: Any) -> Response:
        versions = await run_in_threadpool(self.instance.policy.versions)
        by_number = {v.version: v for v in versions}
        params = request.query_params
        newest = versions[-1].version if versions else 0
        first = _int(field(params, "a", max_length=10) or str(max(1, newest - 1)), "a")
        second = _int(field(params, "b", max_length=10) or str(newest), "b")
        shown = ""
        if first in by_number and second in by_number:
            shown = policy_page.diff(by_number[first], by_number[second])
        return self.render(request, "policy.html", found=found, versions=versions,
                           a=first, b=second, diff=shown,
                           cases=extra.pop("cases", policy_page.EXAMPLE_CASES), **extra)

    async def policy_test(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        form = await request.form()
        found.check_csrf(form)
        version = _int(field(form, "version", max_length=10, required=True), "version")
        cases = field(form, "cases", max_length=policy_page.MAX_CASES_BYTES, required=True)
        await found.require("policy.read", "Policy", str(version))
        chosen = await run_in_threadpool(self.instance.policy.get, version)
        report = await run_in_threadpool(policy_page.run, chosen, cases)
        return await self._policy_page(request, found, report=report, tested=version,
                                       cases=cases)

    async def chat_form(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        await found.require("models.use", "Model")
        models = [m for m in await run_in_threadpool(self.instance.ai.registry.list,
                                                     approved_only=True)
                  if m.spec.kind == "chat"]
        collections = await run_in_threadpool(self.instance.data.list_collections,
                                              found.caller)
        return self.render(request, "chat.html", found=found, models=models,
                           collections=collections)

    async def ask(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        form = await request.form()
        found.check_csrf(form)
        model = field(form, "model", max_length=200, required=True)
        question = field(form, "question", max_length=4000, required=True)
        chosen = tuple(field({"c": c}, "c", max_length=200) for c in form.getlist("collections"))
        await found.require("models.use", "Model")
        gateway = self.instance.ai
        prepared = await gateway.prepare_chat(found.caller,
                                              chat.request_of(model, question, chosen))
        page = self.render(request, "chat_answer.html", found=found, model=model,
                           question=question, collections=chosen, mark=chat.MARK)
        base = request.scope.get("root_path", "")
        return StreamingResponse(chat.stream_page(gateway, prepared, bytes(page.body).decode(),
                                                  base),
                                 media_type="text/html; charset=utf-8",
                                 headers={"x-request-id": prepared.request_id})

    async def passage(self, request: Request) -> Response:
        found = await visit(request, self.instance, self.sessions)
        document_id = str(request.path_params["document_id"])
        # The API's door for GET /data/documents/{id}; the data room decides the rest.
        await found.require("documents.read", "Document", document_id)
        chunk = _int(field(request.query_params, "chunk", max_length=10) or "0", "chunk")
        version_text = field(request.query_params, "version", max_length=10)
        info, name, text = await run_in_threadpool(self.instance.data.read_document,
                                                   found.caller, document_id)
        config = self.instance.data.core.config
        return self.render(request, "passage.html", found=found, info=info, name=name,
                           chunk=chunk, version=_int(version_text, "version")
                           if version_text else None,
                           passage=chat.passage_of(text, chunk, config.chunk_size,
                                                   config.chunk_overlap))


def _int(value: str, what: str) -> int:
    from sovra.errors import InvalidInputError

    if not value.isdigit() or len(value) > 19:
        raise InvalidInputError(f"{what} must be a whole number, not {value!r}")
    return int(value)


def _safe_name(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)[:120]


def _next(request: Request, given: object = None) -> str:
    return given if isinstance(given, str) else request.query_params.get("next", "")


def _safe_next(base: str, value: str) -> str:
    """Only a path inside the console: never another site (open redirect)."""
    if value.startswith(f"{base}/") and not value.startswith("//") and "\\" not in value:
        return value
    return f"{base}/"


def _handler(console: Console, method: Any) -> Any:
    async def endpoint(request: Request) -> Response:
        try:
            response: Response = await method(request)
        except SovraError as exc:
            found = None
            if not isinstance(exc, AuthenticationError):
                try:
                    found = await visit(request, console.instance, console.sessions)
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
        return response
    return endpoint


def console_app(instance: Instance, sessions: SessionStore | None = None) -> Starlette:
    """The console as an ASGI app, to mount at ``/console``."""
    console = Console(instance, sessions)

    def route(path: str, method: Any, methods: list[str]) -> Route:
        return Route(path, _handler(console, method), methods=methods)

    app = Starlette(routes=[
        route("/", console.dashboard, ["GET"]),
        route("/login", console.login, ["GET", "POST"]),
        route("/logout", console.logout, ["POST"]),
        route("/approvals", console.approvals, ["GET"]),
        route("/approvals/lockbox/{request_id}/{verb:str}", console.vote, ["POST"]),
        route("/ledger", console.ledger, ["GET"]),
        route("/ledger/{seq}", console.entry, ["GET"]),
        route("/data", console.data, ["GET"]),
        route("/data/erasures", console.erase, ["POST"]),
        route("/approvals/policy/{version}/approve", console.approve_policy, ["POST"]),
        route("/grants/{grant_id}/watch", console.watch, ["GET"]),
        route("/grants/{grant_id}/terminate", console.terminate, ["POST"]),
        route("/policy", console.policy, ["GET"]),
        route("/policy/test", console.policy_test, ["POST"]),
        route("/chat", console.chat_form, ["GET"]),
        route("/chat", console.ask, ["POST"]),
        route("/passages/{document_id}", console.passage, ["GET"]),
        Mount("/static", StaticFiles(directory=_STATIC), name="console-static"),
    ])
    app.state.console = console
    app.add_middleware(SecurityHeaders)
    return app


__all__ = ["Console", "console_app"]
