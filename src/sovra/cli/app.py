"""The ``sovra`` Typer application: global options and the room command groups.

Command modules are imported only when their command runs (or its own ``--help`` is
asked for): importing every room up front made ``sovra --version`` take 4 s (issue 15).
``_LAZY`` names each command's module, attribute and one-line help, so the top-level
``--help`` lists every command without importing any of them; a test checks that each
line matches the command's own help. A command registered the ordinary way
(``app.add_typer``, ``app.command``) still works, eagerly.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from typer.core import TyperCommand, TyperGroup

import sovra
from sovra.cli.context import GlobalOptions

_COMMANDS = "sovra.cli.commands."
# name: (module, attribute, one-line help). Order is the order `sovra --help` lists.
_LAZY: dict[str, tuple[str, str, str]] = {
    "up": ("up", "up", "Start Sovra on its embedded default and serve the API."),
    "status": ("status", "status", "One screen: server, seal, ledger, models and patch lag."),
    "demo": ("ai", "demo", ('Load the sample collection "demo" (a staff handbook, an incident '
             "report, a retention schedule) so you can ask questions over documents right "
             "away.")),
    "trace": ("ai", "trace", ("Show who asked which model what, fed with which documents, "
              "with ledger proofs.")),
    "models": ("ai", "models_app", "The model registry."),
    "db": ("db", "app", "Database schema."),
    "ledger": ("ledger", "app", "The tamper-evident ledger."),
    "principal": ("identity", "principal_app", "Users and service accounts."),
    "group": ("identity", "group_app", "Groups: members inherit the group's roles."),
    "apikey": ("identity", "apikey_app", "API keys (shown once, stored hashed)."),
    "policy": ("policy", "app", "Written, versioned, testable access policy (Cedar)."),
    "init": ("keys", "init", ("Hold the key ceremony: make the root key and deal custodian "
             "shares (or use an HSM).")),
    "unseal": ("keys", "unseal", ("Give the running server one custodian's share (prompted, "
               "hidden) or share files.")),
    "seal": ("keys", "seal", ("Seal the running server now: it forgets every key until "
             "custodians unseal it.")),
    "keys": ("keys", "app", "Key custody: status, rotation, crypto-erasure."),
    "bundle": ("transfer", "app", ("Signed air-gap bundles (TUF): keys, roots, create, "
               "import, status.")),
    "data": ("data", "app", ("Governed data: collections, ingest, search, holds, retention, "
             "erasure.")),
    "access": ("lockbox", "access_app", ("Ask for, approve and end time-boxed privileged "
               "access.")),
    "lockbox": ("lockbox", "lockbox_app", "The lockbox's status and evidence."),
    "backup": ("continuity", "backup_app", ("Encrypted, signed backups: create, list, verify, "
               "prune.")),
    "restore": ("continuity", "restore_command", ("Restore a backup onto a new data "
                "directory: verified, all or nothing, unseal needed.")),
    "continuity": ("continuity", "app", ("Continuity: restore drills, status, accepting a "
                   "rollback.")),
    "placement": ("placement", "app", ("Workload placement: which workload runs where, and "
                  "why.")),
    "assess": ("assessment", "app", ("Sovereignty readiness: seven layers scored from facts, "
               "gaps, a phased plan.")),
    "threat": ("threat", "app", "Offline threat detection: pack status, hunts, SIEM export."),
    "alerts": ("threat", "alerts_app", ("Security alerts: list, show, acknowledge, assign, "
               "close.")),
    "audit": ("compliance", "audit_app", ("Compliance evidence: the signed report and its "
              "offline check.")),
    "incident": ("compliance", "incident_app", ("The incident register: DORA, NIS2 and GDPR "
                 "clocks.")),
    "sql": ("analytics", "sql", ("Governed SQL over collections' tables: masked by "
            "clearance, recorded.")),
    "export": ("analytics", "export_app", ("The outbound diode: create, review, approve, "
               "fetch and verify exports.")),
}


def load_command(name: str) -> Any:
    """Build the click command for ``name`` from its module, exactly as ``add_typer`` or
    ``app.command`` would have (a throwaway parent app does the registering)."""
    module_name, attribute, _help = _LAZY[name]
    target = getattr(importlib.import_module(_COMMANDS + module_name), attribute)
    parent = typer.Typer(add_completion=False)
    parent.callback()(lambda: None)  # a group even with one command
    if isinstance(target, typer.Typer):
        parent.add_typer(target, name=name)
    else:
        parent.command(name)(target)
    group = typer.main.get_command(parent)
    if not isinstance(group, TyperGroup):
        raise TypeError(f"{name}: expected a command group around it")
    return tidy_help(group.commands[name])


def tidy_help(command: Any) -> Any:
    """Help without artefacts (issue 15): docstrings' reStructuredText ``literals`` shown
    as 'literals', and no ``<bool>`` type beside a flag, which takes no value."""
    if command.help:
        command.help = command.help.replace("``", "'")
    # --help is made on first use and then kept (click caches it): make it now, to tidy.
    help_option = command.get_help_option(typer.Context(command))
    for param in [*command.params, *([help_option] if help_option else [])]:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
        if getattr(param, "help", None):
            param.help = param.help.replace("``", "'")
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)
    return command


class _LazyGroup(TyperGroup):
    """The root group: lazy commands are built on first use; listing them for ``--help``
    uses their one-line help from ``_LAZY`` and imports nothing."""

    _listing = False

    def list_commands(self, ctx: Any) -> list[str]:
        return [*_LAZY, *(n for n in super().list_commands(ctx) if n not in _LAZY)]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in _LAZY:
            return found
        if self._listing:
            line = _LAZY[cmd_name][2]
            return TyperCommand(name=cmd_name, help=line, short_help=line)
        built = load_command(cmd_name)
        self.commands[cmd_name] = built
        return built

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


app = typer.Typer(
    cls=_LazyGroup,
    name="sovra",
    help="Sovra: a sovereign AI cloud you run yourself, connected or air-gapped.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    # Plain click help at the top: Rich's help renderer imports Markdown, Pygments and
    # tracebacks (0.4 s here), more than the rest of `sovra --help` together.
    rich_markup_mode=None,
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


def main() -> None:
    if "COLUMNS" not in os.environ and not sys.stdout.isatty():
        # Piped into grep, less or a file, Rich would cut tables at 80 columns (issue 15).
        os.environ["COLUMNS"] = "240"
    if sys.argv[1:] == ["--version"]:
        # Answered before Typer is even set up: the one command a script polls.
        sys.stdout.write(sovra.__version__ + "\n")
        return
    app()
