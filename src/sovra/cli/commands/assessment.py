"""``sovra assess``: the sovereignty readiness assessment (questionnaire, run, report, diff)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import fail, run
from sovra.errors import InvalidInputError

app = typer.Typer(help=("Sovereignty readiness: seven layers scored from facts, gaps, a phased "
                        "plan."),
                  no_args_is_help=True)
console = Console()
Out = Annotated[Path | None, typer.Option("--out", "-o", help="Write here, not to stdout.")]


def _read(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"cannot read {path}: {exc}") from exc


def _load(path: Path) -> dict[str, Any]:
    from sovra.assessment.readiness import check_document as check

    text = _read(path)
    try:
        return check(json.loads(text), str(path))
    except ValueError as exc:
        raise InvalidInputError(f"{path} is not JSON ({exc}); give a file written by "
                                "`sovra assess run --out`") from exc


def _write(out: Path | None, data: bytes) -> None:
    if out is None:
        typer.echo(data.decode("utf-8"), nl=False)
        return
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise InvalidInputError(f"cannot write {out}: {exc}") from exc


@app.command("questionnaire")
def questionnaire_command(out: Out = None) -> None:
    """Write the questionnaire template (what Sovra cannot see) to fill in."""
    from sovra.assessment.readiness import questionnaire_template as template

    run(lambda: _write(out, template().encode()))


@app.command("run")
def run_command(
    ctx: typer.Context, api_key: ApiKey, out: Out = None,
    questionnaire: Annotated[Path | None, typer.Option(
        help="The filled-in questionnaire (YAML); without it those criteria are not "
             "evidenced.")] = None,
) -> None:
    """Assess this instance now, record the run in the ledger, print or write the JSON."""
    from sovra.assessment.readiness import run_readiness as assess
    from sovra.policy import Resource

    text = run(lambda: _read(questionnaire)) if questionnaire is not None else None
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "assessment.run",
                                    Resource("Assessment", "readiness")))
        made = run(lambda: assess(inst, caller, text,
                                  questionnaire_name=str(questionnaire or "questionnaire")))
    doc = made.document
    if out is None:
        typer.echo(json.dumps(doc, indent=1))
        return
    run(lambda: _write(out, json.dumps(doc, indent=1).encode()))
    table = Table("layer", "score", "met / total weight")
    for name, score in doc["layers"].items():
        table.add_row(name, f"{score['percent']} %",
                      f"{score['met_weight']} / {score['total_weight']}")
    console.print(table)
    console.print(f"{doc['seal']['name']} (overall {doc['seal']['overall_percent']} %); "
                  f"{len(doc['gaps'])} gaps; recorded in the ledger as entry "
                  f"{made.ledger_seq}; written to {out}", highlight=False)


@app.command("report")
def report_command(
    assessment: Path, out: Out = None,
    fmt: Annotated[Literal["html", "pdf", "json"], typer.Option(
        "--format", help="html (charts inline), pdf or json")] = "html",
) -> None:
    """Render an assessment JSON file as HTML, PDF or JSON."""
    from sovra.assessment.readiness import render

    doc = run(lambda: _load(assessment))
    if fmt == "pdf" and out is None:
        fail(InvalidInputError("a PDF is binary: give --out FILE.pdf"))
    data = {"html": lambda: render.html(doc).encode(), "pdf": lambda: render.pdf(doc),
            "json": lambda: json.dumps(doc, indent=1).encode()}[fmt]
    rendered = run(data)
    run(lambda: _write(out, rendered))


@app.command("diff")
def diff_command(
    old: Path, new: Path,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON, not a table.")] = False,
) -> None:
    """Compare two assessments: SEAL level, layer scores, criteria met or lost."""
    from sovra.assessment.readiness import diff_documents as diff

    changes = diff(run(lambda: _load(old)), run(lambda: _load(new)))
    if as_json:
        typer.echo(json.dumps(changes, indent=1))
        return
    console.print(f"SEAL-{changes['seal']['from']} -> SEAL-{changes['seal']['to']}",
                  highlight=False)
    table = Table("layer", "from", "to", "change")
    for name, c in changes["layers"].items():
        table.add_row(name, f"{c['from']} %", f"{c['to']} %", f"{c['change']:+}")
    console.print(table)
    for c in changes["criteria"]:
        console.print(f"{c['criterion']}: {c['from']} -> {c['to']} ({c['observed']})",
                      highlight=False)
