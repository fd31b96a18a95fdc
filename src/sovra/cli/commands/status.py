"""``sovra status``: the running server in one screen (issue 15).

Everything is asked of the server over HTTP: its reachability and version, its seal
state, and, with an API key, its ledger (size and latest signed checkpoint), its
approved models and its patch lag. The command opens no instance of its own, so it is
quick and appends nothing to the ledger beyond the server's own record of the reads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from sovra import errors
from sovra.cli.errors import EXIT_UNAVAILABLE
from sovra.cli.server import call, request, server_url

ApiKey = Annotated[str | None, typer.Option(
    "--api-key", envvar="SOVRA_API_KEY", show_default=False,
    help="API key that may read the ledger, models and bundles (env SOVRA_API_KEY).")]
Url = Annotated[str | None, typer.Option(
    "--url", show_default=False,
    help="Server URL (default http://<host>:<port> from the settings).")]


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "no bundle applied yet"
    days, rest = divmod(int(seconds), 86400)
    return f"{days}d {rest // 3600}h"


def checkpoint_summary(note: str) -> str:
    """Origin, tree size and root hash of a C2SP checkpoint note (its first three lines)."""
    lines = note.splitlines()
    if len(lines) < 3 or not lines[1].isdigit():
        return "no signed checkpoint yet"
    return f"{lines[1]} entries, root {lines[2][:16]}… ({lines[0]})"


def _seal_line(seal: dict[str, Any]) -> str:
    if not seal.get("initialized"):
        return "not initialised: run `sovra init`"
    state = "sealed" if seal.get("sealed") else "unsealed"
    line = f"{state}, mode {seal.get('mode')}"
    if seal.get("dev_mode"):
        line += " (DEVELOPMENT MODE - NOT FOR PRODUCTION)"
    if seal.get("sealed") and seal.get("mode") != "hsm":
        line += f", {seal.get('progress')} of {seal.get('threshold')} shares given"
    return line


def _guarded(what: Callable[[], str]) -> str:
    """One line of the screen: a refusal of one part is shown there, not fatal."""
    try:
        return what()
    except errors.ServerUnreachableError:
        raise
    except errors.SovraError as exc:
        return f"unavailable ({type(exc).__name__}: {exc})"


def _ledger(base: str, key: str) -> str:
    try:
        note = request("GET", f"{base}/ledger/checkpoint", token=key).text
    except errors.NotFoundError:
        return "no signed checkpoint yet (the server signs one within seconds of a write)"
    return checkpoint_summary(note)


def _models(base: str, key: str) -> str:
    found = call("GET", f"{base}/v1/models", token=key).get("data", [])
    names = [f"{m['id']} ({(m.get('sovra') or {}).get('kind', '?')})" for m in found]
    return ", ".join(names) or "none approved"


def _patch_lag(base: str, key: str) -> str:
    found = call("GET", f"{base}/bundles/status", token=key)
    lag = _age(found.get("patch_lag_s"))
    waiting = found.get("awaiting_approval") or []
    return lag + (f"; awaiting approval: {', '.join(waiting)}" if waiting else "")


def screen(base: str, api_key: str | None) -> list[tuple[str, str]]:
    """The rows of the screen; ``ServerUnreachableError`` if no server answers."""
    health = call("GET", f"{base}/healthz")
    rows = [("server", f"{base} answers, Sovra {health.get('version', '?')}"),
            ("seal", _seal_line(call("GET", f"{base}/sys/seal-status")))]
    if api_key is None:
        rows.append(("more", ("give --api-key (or SOVRA_API_KEY) for the ledger, models and "
                             "patch lag")))
        return rows
    rows.append(("ledger", _guarded(lambda: _ledger(base, api_key))))
    rows.append(("models", _guarded(lambda: _models(base, api_key))))
    rows.append(("patch lag", _guarded(lambda: _patch_lag(base, api_key))))
    return rows


def status(ctx: typer.Context, api_key: ApiKey = None, url: Url = None) -> None:
    """One screen: server, seal, ledger, models and patch lag."""
    base = server_url(ctx, url)
    try:
        rows = screen(base, api_key)
    except errors.ServerUnreachableError:
        typer.echo(f"server     not running at {base}: start it with `sovra up`, or give "
                   "its address with --url")
        raise typer.Exit(EXIT_UNAVAILABLE) from None
    for label, value in rows:
        typer.echo(f"{label:<10} {value}")


__all__ = ["checkpoint_summary", "screen", "status"]
