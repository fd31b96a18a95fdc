"""Logging in with an API key, and out. The key is checked by
``identity.authenticate`` (rate limited per credential and client, as the API does) and
kept server-side in the session; the browser holds only a random session id."""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from sovra.console import oidc
from sovra.console.forms import base_of, next_of, safe_next
from sovra.console.guard import (
    LOGIN_COOKIE,
    OIDC_COOKIE,
    SESSION_COOKIE,
    client_of,
    field,
    new_login_token,
    same_token,
    set_cookie,
)
from sovra.errors import NotFoundError, RateLimitedError, SovraError

if TYPE_CHECKING:
    from sovra.console.pages import Console


async def login_form(console: Console, request: Request, message: str = "",
                     status: int = 200) -> Response:
    token = new_login_token()
    response = console.render(request, "login.html", status, login_csrf=token,
                              message=message, next=next_of(request),
                              oidc=console.oidc is not None)
    set_cookie(response, request, LOGIN_COOKIE, token, base=base_of(request), max_age=600)
    return response


async def login(console: Console, request: Request) -> Response:
    if request.method == "GET":
        return await login_form(console, request)
    form = await request.form()
    if not same_token(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return await login_form(console, request, "The login form had expired or came "
                                "from another page: enter your key again.", 403)
    try:
        key = field(form, "api_key", max_length=512, required=True)
        caller = await run_in_threadpool(console.instance.identity.authenticate,
                                         f"Bearer {key}", client_of(request))
    except RateLimitedError as exc:
        return await login_form(console, request, f"{exc} Wait before trying again.", 429)
    except SovraError as exc:
        return await login_form(console, request, f"That API key was not accepted ({exc}). "
                                "Check it, or ask an administrator for a new one "
                                "(sovra apikey create).", 401)
    session = console.sessions.open(f"Bearer {key}")
    await console.instance.ledger.append_async(
        caller.principal_id, "console.login", "console", "success",
        {"credential": caller.via, "client_ip": client_of(request)})
    return start_session(request, session.id, next_of(request, form.get("next")))


def start_session(request: Request, session_id: str, wanted: str) -> Response:
    """The answer to a successful login: the session cookie, then where the person was
    going (a console path only)."""
    base = base_of(request)
    response = RedirectResponse(safe_next(base, wanted), 303)
    set_cookie(response, request, SESSION_COOKIE, session_id, base=base)
    response.delete_cookie(LOGIN_COOKIE, path=base or "/")
    return response


async def oidc_start(console: Console, request: Request) -> Response:
    """Off to the identity provider, with state, nonce and the PKCE challenge."""
    if console.oidc is None:
        raise NotFoundError("this console has no identity-provider login configured: log "
                            "in with an API key")
    base = base_of(request)
    callback = f"{request.url.scheme}://{request.url.netloc}{base}{oidc.CALLBACK}"
    url, state = console.oidc.start(callback, safe_next(base, next_of(request)))
    response = RedirectResponse(url, 303)
    set_cookie(response, request, OIDC_COOKIE, state, base=base,
               max_age=int(oidc.PENDING_S), lax=True)
    return response


async def oidc_callback(console: Console, request: Request) -> Response:
    """Back from the identity provider: the code exchanged for an ID token that
    ``identity.authenticate`` verifies; the login recorded; a session opened."""
    if console.oidc is None:
        raise NotFoundError("this console has no identity-provider login configured")
    params = request.query_params
    if params.get("error"):
        return await login_form(console, request, "The identity provider refused the login "
                                f"({field(params, 'error', max_length=200)}): try again or "
                                "use an API key.", 401)
    state = field(params, "state", max_length=200, required=True)
    code = field(params, "code", max_length=2000, required=True)
    try:
        pending = console.oidc.take(state, request.cookies.get(OIDC_COOKIE))
        id_token = await run_in_threadpool(console.oidc.exchange, pending, code)
        caller = await run_in_threadpool(console.instance.identity.authenticate,
                                         f"Bearer {id_token}", client_of(request))
        oidc.check_nonce(id_token, pending)
    except RateLimitedError as exc:
        return await login_form(console, request, f"{exc} Wait before trying again.", 429)
    except SovraError as exc:
        return await login_form(console, request, f"The login through the identity "
                                f"provider was not accepted: {exc}.", 401)
    session = console.sessions.open(f"Bearer {id_token}")
    await console.instance.ledger.append_async(
        caller.principal_id, "console.login", "console", "success",
        {"credential": caller.via, "client_ip": client_of(request)})
    # The browser arrived here from another site: a SameSite=Strict cookie set now is
    # sent only from the next navigation this page makes itself, so the page moves on
    # (meta refresh: no script) rather than redirecting.
    base = base_of(request)
    response = console.render(request, "continue.html", next=safe_next(base, pending.wanted))
    set_cookie(response, request, SESSION_COOKIE, session.id, base=base)
    response.delete_cookie(OIDC_COOKIE, path=base or "/")
    return response


async def logout(console: Console, request: Request) -> Response:
    found = await console.visit(request)
    found.check_csrf(await request.form())
    console.sessions.close(found.session.id)
    await console.instance.ledger.append_async(found.caller.principal_id, "console.logout",
                                               "console", "success",
                                               {"client_ip": found.client})
    base = base_of(request)
    response = RedirectResponse(f"{base}/login", 303)
    response.delete_cookie(SESSION_COOKIE, path=base or "/")
    return response
