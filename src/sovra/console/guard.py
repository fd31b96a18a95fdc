"""What every console page does first: headers, the session, the caller, CSRF.

The console is a client of the same services under the same authorization as the API:
the caller is authenticated from the session's API key by ``identity.authenticate`` on
every page, and each page asks ``policy.require`` for the same action on the same
resource type the matching API route declares, which records the decision in the
ledger exactly as ``sovra.api.auth`` does (context ``client_ip``).
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sovra.console.sessions import Session, SessionStore
from sovra.errors import AuthenticationError, InvalidInputError, PermissionDeniedError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.policy import Resource

SESSION_COOKIE = "sovra_console"
LOGIN_COOKIE = "sovra_console_login"
OIDC_COOKIE = "sovra_console_oidc"

# No inline script or style anywhere: htmx and the stylesheet come from this server.
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", CSP.encode("ascii")),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
)


class SecurityHeaders:
    """Adds the CSP and its companions to every console response; pages are not cached
    (they show who may do what, as of now)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = "/static/" in scope.get("path", "")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.extend(_HEADERS)
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               base: str, max_age: int | None = None, lax: bool = False) -> None:
    """HttpOnly, SameSite=Strict, scoped to the console; Secure when served over TLS.
    ``lax`` only for the OIDC state cookie, which must come back on the identity
    provider's redirect (a cross-site navigation)."""
    response.set_cookie(name, value, max_age=max_age, path=base or "/", httponly=True,
                        samesite="lax" if lax else "strict",
                        secure=request.url.scheme == "https")


def new_login_token() -> str:
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: object) -> bool:
    return (bool(expected) and isinstance(given, str)
            and hmac.compare_digest(str(expected).encode(), given.encode()))


def field(form: FormData | Mapping[str, object], name: str, *, max_length: int = 4000,
          required: bool = False) -> str:
    """A text field of a form: refused (400) if too long, not text, or holding NUL."""
    value = form.get(name, "")
    if not isinstance(value, str):
        raise InvalidInputError(f"form field {name!r} must be text")
    value = value.strip()
    if required and not value:
        raise InvalidInputError(f"form field {name!r} is required")
    if len(value) > max_length:
        raise InvalidInputError(f"form field {name!r} is longer than {max_length} characters")
    if "\x00" in value or any(0xD800 <= ord(c) <= 0xDFFF for c in value):
        raise InvalidInputError(f"form field {name!r} holds a NUL or an unpaired surrogate")
    return value


@dataclass(frozen=True)
class Visit:
    """One page view by a logged-in person."""

    instance: Instance
    session: Session
    caller: Caller
    client: str

    async def require(self, action: str, resource_type: str, resource_id: str = "*") -> None:
        """Decide and record, as the API's ``authorized`` dependency does."""
        await run_in_threadpool(self.instance.policy.require, self.caller, action,
                                Resource(resource_type, resource_id),
                                {"client_ip": self.client})

    def may(self, action: str, resource_type: str) -> bool:
        """Whether to offer a link (records nothing; the page itself requires)."""
        return self.instance.policy.decide(self.caller, action, Resource(resource_type, "*"),
                                           {"client_ip": self.client}).allowed

    def check_csrf(self, form: FormData) -> None:
        if not same_token(self.session.csrf, form.get("csrf")):
            raise PermissionDeniedError("the form is stale or was sent from another page: "
                                        "reload the page and submit it again", ())


async def visit(request: Request, instance: Instance, sessions: SessionStore) -> Visit:
    """The visit of a logged-in person; ``AuthenticationError`` if there is none (the
    page then sends the browser to the login page)."""
    session = sessions.find(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise AuthenticationError("your console session has ended (timed out, logged out "
                                  "or the server restarted): log in again")
    client = client_of(request)
    try:
        caller = await run_in_threadpool(instance.identity.authenticate,
                                         session.credential, client)
    except AuthenticationError:
        sessions.close(session.id)  # a revoked key ends the session at once
        raise
    return Visit(instance, session, caller, client)


__all__ = ["CSP", "LOGIN_COOKIE", "OIDC_COOKIE", "SESSION_COOKIE", "SecurityHeaders", "Visit",
           "client_of", "field", "new_login_token", "same_token", "set_cookie", "visit"]
