"""Talking to the running server over HTTP from a CLI command.

A command that only reads the server's state asks the server instead of opening the
instance in its own process: that is quicker (no database, no models, no unseal) and
it shows what the server sees, not what a second process would (issue 15).
"""

from __future__ import annotations

import http.client
import json as json_module
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import typer

from sovra import errors
from sovra.cli.context import options
from sovra.cli.errors import run

SERVER_URL_FILE = "server.url"


def write_server_url(data_dir: Path, url: str) -> None:
    """Note where ``sovra up`` serves, for the commands run beside it."""
    path = data_dir / SERVER_URL_FILE
    scratch = path.with_suffix(".tmp")
    scratch.write_text(url + "\n", encoding="ascii")
    scratch.replace(path)


def clear_server_url(data_dir: Path, url: str) -> None:
    """Remove the note if it is still ours (a second server may have replaced it)."""
    path = data_dir / SERVER_URL_FILE
    try:
        if path.read_text(encoding="ascii").strip() == url:
            path.unlink()
    except OSError:
        pass


def data_dir_without_settings(ctx: typer.Context) -> Path:
    """The data directory as the settings would resolve it (flag, ``SOVRA_DATA_DIR``, the
    platform default), without importing them: pydantic-settings alone costs more than
    the rest of `sovra status` (a test checks both agree)."""
    given = options(ctx).data_dir or os.environ.get("SOVRA_DATA_DIR")
    if given:
        return Path(given)
    import platformdirs

    return Path(platformdirs.user_data_dir("sovra", appauthor=False))


def noted_url(data_dir: Path) -> str | None:
    try:
        noted = (data_dir / SERVER_URL_FILE).read_text(encoding="ascii").strip()
    except OSError:
        return None
    return noted if noted.startswith(("http://", "https://")) else None


def server_url(ctx: typer.Context, url: str | None) -> str:
    """``url`` if given; else where ``sovra up`` on this data directory said it serves;
    else the address the settings name."""
    if url:
        return url.rstrip("/")
    noted = noted_url(data_dir_without_settings(ctx))
    if noted is not None:
        return noted
    settings = run(options(ctx).settings)
    return noted_url(settings.data_dir) or f"http://{settings.host}:{settings.port}"


def _error_kind(response: Answer) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", response.text[:300]
    problem = body.get("error", {}) if isinstance(body, dict) else {}
    if not isinstance(problem, dict):
        return "", response.text[:300]
    # The API's own routes put the error class in "type", the /v1 ones in "code".
    kind = str(problem.get("code") or problem.get("type") or "")
    return kind, str(problem.get("message", response.text[:300]))


@dataclass(frozen=True)
class Answer:
    """A server's answer, as much of it as the commands read."""

    status_code: int
    content: bytes

    @property
    def is_error(self) -> bool:
        return self.status_code >= 400  # 4xx and 5xx

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        return json_module.loads(self.content)


def fetch(method: str, url: str, *, body: bytes | None = None,
          headers: dict[str, str] | None = None, timeout_s: float = 30.0) -> Answer:
    """One HTTP exchange; ``ServerUnreachableError`` if nothing answers.

    Plain ``http://`` (loopback, the default) goes through the standard library's
    ``http.client``: httpx alone takes 0.05-0.25 s to import here, its transport imports
    httpcore, which imports trio when it is installed, and it builds a TLS context from
    the CA bundle even for a plain URL; together 0.3-0.9 s on a busy machine, more than
    the rest of a quick command (issue 15). ``https://`` goes through httpx, which
    verifies the server's certificate."""
    try:
        if url.startswith("https://"):
            return _over_tls(method, url, body, headers, timeout_s)
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1",
                                                parts.port or 80, timeout=timeout_s)
        try:
            connection.request(method, target, body=body, headers=headers or {})
            answer = connection.getresponse()
            return Answer(answer.status, answer.read())
        finally:
            connection.close()
    except (OSError, http.client.HTTPException) as exc:
        raise errors.ServerUnreachableError(
            f"no Sovra server answers at {url} ({type(exc).__name__}: {exc}); start it "
            "with `sovra up`, or give its address with --url") from exc


def _over_tls(method: str, url: str, body: bytes | None, headers: dict[str, str] | None,
              timeout_s: float) -> Answer:
    import httpx

    try:
        answer = httpx.request(method, url, content=body, headers=headers, timeout=timeout_s)
    except httpx.HTTPError as exc:
        raise OSError(str(exc)) from exc
    return Answer(answer.status_code, answer.content)


def request(method: str, url: str, *, json: object = None, token: str | None = None,
            timeout_s: float = 30.0) -> Answer:
    """One request; ``ServerUnreachableError`` if nothing answers, and the server's error
    body turned back into the same typed error here."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    body = None
    if json is not None:
        body = json_module.dumps(json).encode()
        headers["Content-Type"] = "application/json"
    response = fetch(method, url, body=body, headers=headers, timeout_s=timeout_s)
    if response.is_error:
        kind_name, message = _error_kind(response)
        kind = getattr(errors, kind_name, None)
        if isinstance(kind, type) and issubclass(kind, errors.SovraError) and kind not in (
                errors.RateLimitedError, errors.QuotaExceededError, errors.OverloadedError,
                errors.PermissionDeniedError, errors.StorageBusyError):
            raise kind(message)
        if response.status_code == 403:
            raise errors.PermissionDeniedError(message)
        raise errors.SovraError(f"HTTP {response.status_code}: {message}")
    return response


def call(method: str, url: str, *, json: object = None, token: str | None = None
         ) -> dict[str, Any]:
    """``request`` for a JSON object answer."""
    response = request(method, url, json=json, token=token)
    body = response.json() if response.content else {}
    if not isinstance(body, dict):
        raise errors.SovraError(f"unexpected answer from {url}")
    return body
