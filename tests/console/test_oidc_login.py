"""Console login with OIDC (authorization code + PKCE) against a real OpenID Connect
provider on loopback (``oidc-provider-mock``, its own process): in a real headless
Chromium against the real ``sovra up``, and the refusals through the ASGI app."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from sovra.api import create_app
from sovra.config import load_settings
from sovra.instance import open_instance
from tests.e2e.server import Server, sovra_up
from tests.support.oidc_provider import Provider, oidc_provider

AUDIENCE = "sovra-console"
ANN = {"sub": "ann", "groups": ["sec-approvers"], "sovra_clearance": "secret"}


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Provider]:
    with oidc_provider(tmp_path_factory.mktemp("idp"), ANN) as running:
        yield running


def _env(provider: Provider) -> dict[str, str]:
    return {"SOVRA_OIDC_ISSUER": provider.issuer, "SOVRA_OIDC_AUDIENCE": AUDIENCE,
            "SOVRA_OIDC_JWKS_PATH": str(provider.jwks_path),
            "SOVRA_OIDC_GROUP_ROLES": json.dumps({"sec-approvers": ["approver"]}),
            "SOVRA_CONSOLE_OIDC_AUTHORIZE_URL": provider.authorize_url,
            "SOVRA_CONSOLE_OIDC_TOKEN_URL": provider.token_url,
            # A confidential client with PKCE (this provider accepts any secret).
            "SOVRA_CONSOLE_OIDC_CLIENT_SECRET": "console-client-secret"}


def test_the_login_goes_through_the_provider_with_pkce_and_is_recorded(
        provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The whole flow without a browser: the console's redirect, the provider's consent
    form posted by httpx, the callback; then a replayed callback is refused."""
    for name, value in _env(provider).items():
        monkeypatch.setenv(name, value)
    inst = open_instance(load_settings(data_dir=tmp_path / "data", checkpoint_interval_s=0.0))
    try:
        console = TestClient(create_app(inst), base_url="http://127.0.0.1")
        login = console.get("/console/login")
        assert 'id="oidc-login"' in login.text
        started = console.get("/console/oidc/login?next=/console/approvals",
                              follow_redirects=False)
        assert started.status_code == 303
        asked = urlsplit(started.headers["location"])
        query = {k: v[0] for k, v in parse_qs(asked.query).items()}
        assert f"{asked.scheme}://{asked.netloc}{asked.path}" == provider.authorize_url
        assert query["code_challenge_method"] == "S256"
        assert len(query["code_challenge"]) == 43  # base64url of a SHA-256, unpadded
        assert query["client_id"] == AUDIENCE and query["response_type"] == "code"
        assert query["state"] and query["nonce"]
        cookie = next(v for k, v in started.headers.multi_items() if k == "set-cookie")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie

        consent = httpx.post(started.headers["location"], data={"sub": "ann"})
        assert consent.status_code == 302, consent.text
        back = urlsplit(consent.headers["location"])
        assert back.path == "/console/oidc/callback"
        callback = f"/console/oidc/callback?{back.query}"
        done = console.get(callback, follow_redirects=False)
        assert done.status_code == 200, done.text.split('role="alert">')[-1][:600]
        assert 'http-equiv="refresh" content="0; url=/console/approvals"' in done.text
        home = console.get("/console/approvals")
        assert home.status_code == 200
        assert "oidc:ann (approver)" in home.text
        logged = [json.loads(e.body) for e in inst.ledger.tail(30)
                  if b'"console.login"' in e.body]
        assert logged[-1]["actor"] == "oidc:ann"
        assert logged[-1]["details"]["credential"] == f"oidc:{provider.issuer}"

        replayed = console.get(callback)  # the state is spent: no second session
        assert replayed.status_code == 401
        assert "start again from the login page" in replayed.text
        stranger = TestClient(create_app(inst), base_url="http://127.0.0.1")
        foreign = stranger.get(callback)  # another browser: no state cookie
        assert foreign.status_code == 401 and "did not start in this browser" in foreign.text
    finally:
        inst.close()


def test_half_an_oidc_configuration_is_refused_at_start(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch
                                                         ) -> None:
    from sovra.errors import ConfigError

    monkeypatch.setenv("SOVRA_CONSOLE_OIDC_AUTHORIZE_URL", "http://127.0.0.1:9/authorize")
    inst = open_instance(load_settings(data_dir=tmp_path / "data", checkpoint_interval_s=0.0))
    try:
        with pytest.raises(ConfigError, match="SOVRA_CONSOLE_OIDC_TOKEN_URL"):
            create_app(inst)
    finally:
        inst.close()


@pytest.fixture
def oidc_server(provider: Provider, tmp_path: Path) -> Iterator[Server]:
    with sovra_up(tmp_path / "data", extra_env=_env(provider)) as running:
        yield running
