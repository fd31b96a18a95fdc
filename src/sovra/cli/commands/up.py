"""``sovra up``: start the instance and serve the HTTP API on loopback."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from sovra.api import create_app
from sovra.cli.context import options
from sovra.cli.errors import run
from sovra.instance import open_instance

console = Console()


def up(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Bind address (default 127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8470).")] = None,
) -> None:
    """Start Sovra on its embedded default and serve the API."""
    settings = run(lambda: options(ctx).settings(host=host, port=port))
    instance = run(lambda: open_instance(settings))
    console.print(f"Sovra {settings.profile} instance, data in {settings.data_dir}")
    console.print(f"API on http://{settings.host}:{settings.port}  (docs at /docs)")
    app = create_app(instance, close_instance_on_shutdown=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")
