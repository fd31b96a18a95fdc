"""A real OpenID Connect provider on loopback for the console's login tests:
``oidc-provider-mock`` (Flask and Authlib: discovery, authorization endpoint, token
endpoint, JWKS, RS256 ID tokens) run as its own process, as an on-site IdP would be."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class Provider:
    issuer: str
    jwks_path: Path

    @property
    def authorize_url(self) -> str:
        return f"{self.issuer}/oauth2/authorize"

    @property
    def token_url(self) -> str:
        return f"{self.issuer}/oauth2/token"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def oidc_provider(folder: Path, *users: dict[str, object]) -> Iterator[Provider]:
    """The provider with ``users`` (claims with a ``sub``) predefined; its JWKS written
    to a file, as an operator hands the IdP's keys to Sovra."""
    port = _free_port()
    args = [sys.executable, "-m", "oidc_provider_mock", "--port", str(port)]
    for user in users:
        args += ["--user-claims", json.dumps(user)]
    log = (folder / "oidc-provider.log").open("wb")
    process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                found = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=2)
                if found.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, (folder / "oidc-provider.log").read_text()
            assert time.monotonic() < deadline, "the OIDC provider did not start"
            time.sleep(0.2)
        assert found.json()["issuer"] == issuer
        jwks = folder / "idp-jwks.json"
        jwks.write_text(httpx.get(f"{issuer}/jwks", timeout=5).text)
        yield Provider(issuer, jwks)
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


__all__ = ["Provider", "oidc_provider"]
