"""The ``sovra`` Typer application: global options and the room command groups."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

import sovra
from sovra.cli.commands import ai as ai_commands
from sovra.cli.commands import continuity as continuity_commands
from sovra.cli.commands import data as data_commands
from sovra.cli.commands import db, ledger, up
from sovra.cli.commands import identity as identity_commands
from sovra.cli.commands import keys as keys_commands
from sovra.cli.commands import lockbox as lockbox_commands
from sovra.cli.commands import placement as placement_commands
from sovra.cli.commands import policy as policy_commands
from sovra.cli.commands import transfer as transfer_commands
from sovra.cli.context import GlobalOptions

app = typer.Typer(
    name="sovra",
    help="Sovra: a sovereign AI cloud you run yourself, connected or air-gapped.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(sovra.__version__)
        raise typer.Exit


@app.callback()
def main_options(
    ctx: typer.Context,
    data_dir: Annotated[Path | None, typer.Option(
        "--data-dir", help="Data directory (env SOVRA_DATA_DIR).", show_default=False)] = None,
    database_url: Annotated[str | None, typer.Option(
        "--database-url", help="Database URL; PostgreSQL selects the cluster profile "
        "(env SOVRA_DATABASE_URL).", show_default=False)] = None,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Print the version.")] = False,
) -> None:
    ctx.obj = GlobalOptions(data_dir=data_dir, database_url=database_url)


app.add_typer(db.app, name="db")
app.add_typer(ledger.app, name="ledger")
app.command("up")(up.up)
app.command("trace")(ai_commands.trace)
app.command("demo")(ai_commands.demo)
app.add_typer(ai_commands.models_app, name="models")
app.add_typer(identity_commands.principal_app, name="principal")
app.add_typer(identity_commands.group_app, name="group")
app.add_typer(identity_commands.apikey_app, name="apikey")
app.add_typer(policy_commands.app, name="policy")
app.command("init")(keys_commands.init)
app.command("unseal")(keys_commands.unseal)
app.command("seal")(keys_commands.seal)
app.add_typer(keys_commands.app, name="keys")
app.add_typer(transfer_commands.app, name="bundle")
app.add_typer(data_commands.app, name="data")
app.add_typer(lockbox_commands.access_app, name="access")
app.add_typer(lockbox_commands.lockbox_app, name="lockbox")
app.add_typer(continuity_commands.backup_app, name="backup")
app.command("restore")(continuity_commands.restore_command)
app.add_typer(continuity_commands.app, name="continuity")
app.add_typer(placement_commands.app, name="placement")


def main() -> None:
    app()
