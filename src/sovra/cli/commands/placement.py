"""``sovra placement``: advise where each workload should run, and show the rules."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import run
from sovra.errors import InvalidInputError

app = typer.Typer(help="Workload placement: which workload runs where, and why.",
                  no_args_is_help=True)
console = Console()


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc


@app.command("advise")
def advise_command(
    ctx: typer.Context, inventory: Path, api_key: ApiKey,
    rules: Annotated[Path | None, typer.Option(
        help="A rules file (YAML); default: the shipped set (sovra placement rules).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
) -> None:
    """Place every workload of INVENTORY (YAML or CSV) and record the advice."""
    from sovra.assessment.placement import advise
    from sovra.policy import Resource

    text = run(lambda: _read(inventory))
    rules_text = run(lambda: _read(rules)) if rules is not None else None
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "placement.advise",
                                    Resource("Assessment", "placement")))
        advice = run(lambda: advise(inst.ledger, caller, text, inventory_name=str(inventory),
                                    rules=rules_text,
                                    rules_name=str(rules) if rules else "rules"))
    if as_json:
        typer.echo(json.dumps(advice.as_dict(), indent=2))
        return
    table = Table("workload", "placement", "decided by", "controls required", expand=True)
    for p in advice.placements:
        deciding = "; ".join(r.rule_id for r in p.deciding) or "no obligation raises it"
        table.add_row(p.workload.name, p.target.title, deciding, "\n".join(p.controls))
    console.print(table)
    console.print(f"recorded in the ledger (entry {advice.ledger_seq}); rules "
                  f"{advice.rules_name} sha256 {advice.rules_sha256[:16]}", highlight=False)


@app.command("rules")
def rules_command() -> None:
    """Print the default rules file, to copy and adapt."""
    from sovra.assessment.placement import default_rules_text

    typer.echo(default_rules_text(), nl=False)
