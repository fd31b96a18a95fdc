"""``sovra db``: schema migrations."""

from __future__ import annotations

import typer
from rich.console import Console

from sovra.cli.context import options
from sovra.cli.errors import run
from sovra.store import make_engine, pending, upgrade

app = typer.Typer(help="Database schema.", no_args_is_help=True)
console = Console()


@app.command("upgrade")
def upgrade_command(ctx: typer.Context) -> None:
    """Apply every pending migration (also done automatically on start)."""
    settings = run(options(ctx).settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    heads = run(lambda: upgrade(make_engine(settings.effective_database_url)))
    console.print(f"database at {', '.join(heads)}")


@app.command("status")
def status_command(ctx: typer.Context) -> None:
    """Show which migrations are still pending."""
    settings = run(options(ctx).settings)
    todo = run(lambda: pending(make_engine(settings.effective_database_url)))
    console.print("up to date" if not todo else f"pending: {', '.join(todo)}")
