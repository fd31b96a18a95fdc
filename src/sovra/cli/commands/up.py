"""``sovra up``: start the instance and serve the HTTP API on loopback.

The port is bound before anything else happens: a taken port must fail before the
instance is opened, entries written or the demo loaded, not after (issue 15).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from typing import Annotated

import typer
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from sovra.ai import register_builtin_models
from sovra.api import create_app, json_log_config
from sovra.cli.context import options
from sovra.cli.errors import run
from sovra.cli.server import clear_server_url, write_server_url
from sovra.config import Settings
from sovra.continuity import refuse_if_held, refuse_if_unwritable
from sovra.errors import ConfigError
from sovra.identity import ensure_first_admin
from sovra.instance import open_instance
from sovra.keys import start_for_up
from sovra.lockbox import DEV_MODE_LOCKBOX_WARNING

console = Console()


def bind_port(host: str, port: int) -> socket.socket:
    """The listening address, bound now (uvicorn serves on it later); ``ConfigError``
    naming the address and the fix if it is taken or not ours to bind."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror}; give a local "
                          "address with --host") from exc
    family, kind, proto, _name, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # As uvicorn binds: a restart may reuse a port whose old connections linger in
        # TIME_WAIT; it still cannot take a port another process is listening on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise ConfigError(f"cannot listen on {host}:{port}: {exc.strerror or exc}; another "
                          "process may be using that port: stop it, or choose another "
                          "port with --port (nothing was started or changed)") from exc
    sock.set_inheritable(True)
    return sock


class _Server(uvicorn.Server):
    """uvicorn's server, removing the server-URL note once it has shut down: uvicorn
    re-raises SIGTERM after a graceful shutdown, so no ``finally`` after ``run`` runs."""

    def __init__(self, config: uvicorn.Config, data_dir: Path, url: str) -> None:
        super().__init__(config)
        self._note = (data_dir, url)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            await super().shutdown(sockets)
        finally:
            clear_server_url(*self._note)


def _serve(app: FastAPI, settings: Settings, sock: socket.socket, url: str) -> None:
    # Every request is in the ledger already; a per-request access log line would cost
    # the AI gateway's hot path more than the rest of the request (issue 7 benchmarks).
    # SOVRA_LOG_FORMAT=json: one JSON object per log line, with the request id (issue 22);
    # SOVRA_ACCESS_LOG=1 adds a line per request (off by default, as above).
    log_config = uvicorn.config.LOGGING_CONFIG
    if os.environ.get("SOVRA_LOG_FORMAT") == "json":
        log_config = json_log_config(access=os.environ.get("SOVRA_ACCESS_LOG") == "1")
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="info",
                            access_log=False, log_config=log_config)
    _Server(config, settings.data_dir, url).run(sockets=[sock])


def up(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8470).")] = None,
    demo: Annotated[bool, typer.Option(
        "--demo", help="Load the sample collection 'demo' (as `sovra demo`).")] = False,
) -> None:
    """Start Sovra on its embedded default and serve the API."""
    settings = run(lambda: options(ctx).settings(host=host, port=port))
    sock = run(lambda: bind_port(settings.host, settings.port))
    try:
        _start(settings, sock, demo=demo)
    finally:
        sock.close()


def _start(settings: Settings, sock: socket.socket, *, demo: bool) -> None:
    # A restore that found a rollback holds the instance until an approver accepts it.
    run(lambda: refuse_if_held(settings.data_dir))
    run(lambda: refuse_if_unwritable(settings.data_dir))  # a read-only disk: say so
    instance = run(lambda: open_instance(settings))
    console.print(f"Sovra {settings.profile} instance, data in {settings.data_dir}")
    keys = run(lambda: start_for_up(instance.keys))
    if keys.warning:
        console.rule("[bold red]DEVELOPMENT MODE - NOT FOR PRODUCTION")
        console.print(keys.warning, style="bold red", highlight=False)
        console.rule("[bold red]DEVELOPMENT MODE")
    for line in keys.messages:
        console.print(line, highlight=False)
    if not instance.policy.lockbox_enforced:  # ADR 0700 addendum: loud, every start
        console.print(DEV_MODE_LOCKBOX_WARNING, style="bold red", highlight=False)
    first_key = run(lambda: ensure_first_admin(instance))
    if first_key is not None:
        console.rule("[bold red]FIRST ADMIN API KEY: shown once, store it now")
        console.print(first_key, highlight=False, soft_wrap=True)
        console.rule("[bold red]it cannot be shown again; use it as SOVRA_API_KEY")
    for model in run(lambda: register_builtin_models(instance.ai)):
        console.print(f"model {model.model_id} ({model.spec.kind}, {model.spec.locality}, "
                      f"approved up to {model.spec.ceiling}) sha256 {model.spec.sha256[:16]}…",
                      highlight=False)
    if demo:
        from sovra.ai import demo_caller, load_demo

        loaded = run(lambda: load_demo(instance.data, demo_caller(instance)))
        console.print(f"demo collection 'demo': {len(loaded.results)} sample documents "
                      f"({loaded.count('ingested')} new)", highlight=False)
    url = f"http://{settings.host}:{settings.port}"
    # Other commands (`sovra status`, `sovra demo`, `sovra keys status`) find the server
    # here when it was started on another port than the settings name (issue 15).
    write_server_url(settings.data_dir, url)
    console.print(f"Sovra on {url}/  (API docs at /docs)")
    try:
        _serve(create_app(instance, close_instance_on_shutdown=True), settings, sock, url)
    finally:
        clear_server_url(settings.data_dir, url)
