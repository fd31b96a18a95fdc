"""``sovra threat`` (pack status, hunts, export) and ``sovra alerts`` (triage). Thin."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.commands.identity import ApiKey
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import run
from sovra.errors import InvalidInputError

if TYPE_CHECKING:
    from sovra.identity import Caller
    from sovra.instance import Instance

app = typer.Typer(help="Offline threat detection: pack status, hunts, SIEM export.",
                  no_args_is_help=True)
alerts_app = typer.Typer(help="Security alerts: list, show, acknowledge, assign, close.",
                         no_args_is_help=True)
console = Console()
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")]


def _caller(inst: Instance, api_key: str) -> Caller:
    return inst.identity.authenticate(f"Bearer {api_key}", "cli")


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise InvalidInputError(f"--syslog {text!r}: give HOST:PORT, like 127.0.0.1:514")
    return host, int(port)


@app.command("status")
def status_command(ctx: typer.Context, api_key: ApiKey, as_json: AsJson = False) -> None:
    """Each threat pack's age (warns past 30 days), rule problems, open alerts."""
    with open_cli_instance(ctx) as inst:
        result = run(lambda: inst.threat.status(_caller(inst, api_key)))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    table = Table("kind", "component", "version", "age (days)", "bundle")
    for p in result.packs:
        table.add_row(p.kind, p.component, p.version,
                      f"[red]{p.age_s / 86400:.1f}[/red]" if p.stale else f"{p.age_s / 86400:.1f}",
                      p.bundle_id)
    console.print(table)
    console.print(f"{result.rules} rules, {result.indicators} indicators, {result.yara_files} "
                  f"YARA files; {result.events} events; {result.open_alerts} open alerts",
                  highlight=False)
    for line in (*result.warnings, *result.problems):
        console.print(f"[yellow]warning:[/yellow] {line}", highlight=False)


@app.command("default-pack")
def default_pack_command() -> None:
    """Print Sovra's default Sigma pack, to carry in with a signed bundle."""
    from importlib.resources import files

    typer.echo(files("sovra.threat").joinpath("default-pack.yaml").read_text("utf-8"),
               nl=False)


@app.command("hunt")
def hunt_command(ctx: typer.Context, api_key: ApiKey, as_json: AsJson = False) -> None:
    """Run every rule over the events not yet examined, now."""
    with open_cli_instance(ctx) as inst:
        result = run(lambda: inst.threat.hunt(_caller(inst, api_key)))
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    console.print(f"events {result.evaluated_from}..{result.evaluated_to}: "
                  f"{len(result.alerts)} alert(s) {' '.join(result.alerts)}", highlight=False)
    for line in result.problems:
        console.print(f"[yellow]rule problem:[/yellow] {line}", highlight=False)


@app.command("export")
def export_command(
    ctx: typer.Context, api_key: ApiKey,
    syslog: Annotated[str | None, typer.Option(help="HOST:PORT of a syslog receiver.")] = None,
    protocol: Annotated[str, typer.Option(help="udp or tcp")] = "udp",
    status: Annotated[str | None, typer.Option(help="Only alerts in this status.")] = None,
) -> None:
    """Export alerts as RFC 5424 syslog (--syslog HOST:PORT) or JSON lines (stdout)."""
    from sovra.threat import send_syslog, write_json_lines

    with open_cli_instance(ctx) as inst:
        alerts = run(lambda: inst.threat.list_alerts(
            _caller(inst, api_key), status))
    if syslog is None:
        write_json_lines(alerts, sys.stdout)
        return
    host, port = run(lambda: _address(syslog))
    sent = run(lambda: send_syslog(alerts, host, port, protocol=protocol))
    console.print(f"sent {sent} alert(s) to {syslog} over {protocol}", highlight=False)


@alerts_app.command("list")
def list_command(ctx: typer.Context, api_key: ApiKey,
                 status: Annotated[str | None, typer.Option()] = None,
                 as_json: AsJson = False) -> None:
    """The alerts, oldest first."""
    with open_cli_instance(ctx) as inst:
        alerts = run(lambda: inst.threat.list_alerts(
            _caller(inst, api_key), status))
    if as_json:
        typer.echo(json.dumps([a.as_dict() for a in alerts], indent=2))
        return
    table = Table("id", "severity", "status", "count", "assignee", "title")
    for a in alerts:
        table.add_row(a.id, a.severity, a.status, str(a.count), a.assignee or "", a.title)
    console.print(table)


@alerts_app.command("show")
def show_command(ctx: typer.Context, alert_id: str, api_key: ApiKey) -> None:
    """One alert with the ledger entries (events) that raised it."""
    with open_cli_instance(ctx) as inst:
        alert = run(lambda: inst.threat.show_alert(
            _caller(inst, api_key), alert_id))
    typer.echo(json.dumps(alert.as_dict(), indent=2))


@alerts_app.command("ack")
def ack_command(ctx: typer.Context, alert_id: str, api_key: ApiKey) -> None:
    """Acknowledge an alert (recorded in the ledger)."""
    with open_cli_instance(ctx) as inst:
        alert = run(lambda: inst.threat.ack(_caller(inst, api_key), alert_id))
    console.print(f"alert {alert.id}: {alert.status}", highlight=False)


@alerts_app.command("assign")
def assign_command(ctx: typer.Context, alert_id: str, assignee: str, api_key: ApiKey) -> None:
    """Assign an alert to a principal (recorded in the ledger)."""
    with open_cli_instance(ctx) as inst:
        alert = run(lambda: inst.threat.assign(
            _caller(inst, api_key), alert_id, assignee))
    console.print(f"alert {alert.id}: assigned to {alert.assignee}", highlight=False)


@alerts_app.command("close")
def close_command(ctx: typer.Context, alert_id: str, api_key: ApiKey,
                  reason: Annotated[str, typer.Option(
                      help="Why it is resolved or a false positive (required).")]) -> None:
    """Close an alert; a reason is required (recorded in the ledger)."""
    with open_cli_instance(ctx) as inst:
        alert = run(lambda: inst.threat.close_alert(
            _caller(inst, api_key), alert_id, reason))
    console.print(f"alert {alert.id}: closed ({alert.close_reason})", highlight=False)


@alerts_app.command("incident")
def incident_command(ctx: typer.Context, alert_id: str, api_key: ApiKey) -> None:
    """Open an incident for an alert in the compliance register (`sovra incident list`)."""
    with open_cli_instance(ctx) as inst:
        alert = run(lambda: inst.threat.open_incident(
            _caller(inst, api_key), alert_id))
    console.print(f"alert {alert.id}: incident {alert.incident_id}", highlight=False)
