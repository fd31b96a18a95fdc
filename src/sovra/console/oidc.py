"""Console login with the organisation's identity provider: OpenID Connect
authorization code flow with PKCE (RFC 7636, S256), through Authlib's client.

The IdP's tokens are already trusted by ``sovra.identity`` (issuer, audience and JWKS
file, verified offline: ``identity.oidc``). The console adds only the browser's half:

* ``start`` keeps a random ``state``, ``nonce`` and PKCE verifier server-side (never in
  the browser), binds them to the browser with a short-lived cookie, and sends the
  browser to the IdP with the S256 challenge;
* ``finish`` takes the code back only with the same ``state`` from the same browser,
  exchanges it at the token endpoint with the verifier, and accepts the ID token only
  if ``identity.authenticate`` verifies it (signature, issuer, audience, expiry) and it
  carries the nonce this login sent.

The session then holds the ID token as its credential: every page verifies it again,
so the session ends when the token expires, as an API-key session ends on revocation.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from authlib.integrations.httpx_client import OAuth2Client

from sovra.config import Settings
from sovra.errors import AuthenticationError, ConfigError

# A login must come back within this time; pending logins are bounded in number.
PENDING_S = 600.0
MAX_PENDING = 10_000
TIMEOUT_S = 10.0
CALLBACK = "/oidc/callback"


@dataclass(frozen=True)
class OidcClient:
    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str | None

    @classmethod
    def from_settings(cls, settings: Settings) -> OidcClient | None:
        """The console's OIDC login if configured, else None (API keys only). Half a
        configuration is an error that names what is missing."""
        wanted = (settings.console_oidc_authorize_url, settings.console_oidc_token_url)
        if not any(wanted):
            return None
        if not all(wanted):
            raise ConfigError("console OIDC login needs both SOVRA_CONSOLE_OIDC_AUTHORIZE_URL "
                              "and SOVRA_CONSOLE_OIDC_TOKEN_URL")
        if not (settings.oidc_issuer and settings.oidc_audience and settings.oidc_jwks_path):
            raise ConfigError("console OIDC login needs the IdP's tokens to be trusted: set "
                              "SOVRA_OIDC_ISSUER, SOVRA_OIDC_AUDIENCE and SOVRA_OIDC_JWKS_PATH")
        secret = settings.console_oidc_client_secret
        return cls(str(settings.console_oidc_authorize_url),
                   str(settings.console_oidc_token_url),
                   settings.console_oidc_client_id or settings.oidc_audience,
                   secret.get_secret_value() if secret is not None else None)


@dataclass(frozen=True)
class Pending:
    verifier: str
    nonce: str
    redirect_uri: str
    wanted: str
    at: float


class OidcLogin:
    """Pending logins (thread-safe) and the two halves of the flow."""

    def __init__(self, client: OidcClient, clock: Callable[[], float] = time.time) -> None:
        self.client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._pending: dict[str, Pending] = {}

    def _session(self, redirect_uri: str) -> OAuth2Client:
        return OAuth2Client(client_id=self.client.client_id,
                            client_secret=self.client.client_secret,
                            redirect_uri=redirect_uri, scope="openid",
                            # No secret: a public client, which PKCE is made for.
                            token_endpoint_auth_method=(
                                "none" if self.client.client_secret is None
                                else "client_secret_basic"),
                            code_challenge_method="S256", timeout=TIMEOUT_S)

    def start(self, redirect_uri: str, wanted: str) -> tuple[str, str]:
        """(the IdP's authorization URL, the state for the browser's cookie)."""
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = secrets.token_urlsafe(64)  # 86 characters: RFC 7636 §4.1
        now = self._clock()
        with self._lock:
            for key in [k for k, p in self._pending.items() if now - p.at > PENDING_S]:
                del self._pending[key]
            if len(self._pending) >= MAX_PENDING:
                del self._pending[min(self._pending, key=lambda k: self._pending[k].at)]
            self._pending[state] = Pending(verifier, nonce, redirect_uri, wanted, now)
        with self._session(redirect_uri) as session:
            url, _ = session.create_authorization_url(
                self.client.authorize_url, state=state, code_verifier=verifier, nonce=nonce)
        return str(url), state

    def take(self, state: str, cookie: str | None) -> Pending:
        """The pending login of ``state``, once, only for the browser that started it."""
        if not cookie or not secrets.compare_digest(state.encode(), cookie.encode()):
            raise AuthenticationError("this login did not start in this browser (state "
                                      "mismatch): start again from the login page")
        with self._lock:
            found = self._pending.pop(state, None)
        if found is None or self._clock() - found.at > PENDING_S:
            raise AuthenticationError("this login has expired or was already used: start "
                                      "again from the login page")
        return found

    def exchange(self, pending: Pending, code: str) -> str:
        """The ID token for ``code`` (blocking: run it in a thread)."""
        try:
            with self._session(pending.redirect_uri) as session:
                token: dict[str, Any] = dict(session.fetch_token(
                    self.client.token_url, code=code, code_verifier=pending.verifier,
                    grant_type="authorization_code"))
        except Exception as exc:  # httpx or Authlib: the IdP refused or is unreachable
            raise AuthenticationError(f"the identity provider did not issue a token: "
                                      f"{exc}") from exc
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise AuthenticationError("the identity provider's answer has no ID token")
        return id_token


def check_nonce(id_token: str, pending: Pending) -> None:
    """After ``identity.authenticate`` verified the token: it must carry this login's
    nonce (OIDC Core §3.1.3.7 (11)), so a token issued for another login is refused."""
    claims = jwt.decode(id_token, options={"verify_signature": False})
    nonce = claims.get("nonce")
    if not isinstance(nonce, str) or not secrets.compare_digest(nonce.encode(),
                                                                 pending.nonce.encode()):
        raise AuthenticationError("the ID token was not issued for this login (nonce)")


__all__ = ["CALLBACK", "OidcClient", "OidcLogin", "Pending", "check_nonce"]
