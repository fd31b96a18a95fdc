"""``sovra audit`` (the signed evidence report and its offline check) and ``sovra
incident`` (the register with its legal clocks).

``sovra audit check`` opens no instance and needs no server: it reads the report (and
the ledger export) only. Exit codes as ``sovra ledger verify``: 0 valid, 1 invalid
(the failing claim named), 3 unreadable.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import EXIT_INVALID, run
from sovra.policy import Resource

audit_app = typer.Typer(help="Compliance evidence: the signed report and its offline check.",
                        no_args_is_help=True)
incident_app = typer.Typer(help="The incident register: DORA, NIS2 and GDPR clocks.",
                           no_args_is_help=True)
console = Console()
_RESOURCE = Resource("Compliance", "register")
YEAR = 365 * 86400.0

Since = Annotated[str | None, typer.Option("--since", help="Period start (date or time, "
                                           "UTC); default one year before --until.")]
Until = Annotated[str | None, typer.Option("--until", help="Period end; default now.")]
Regimes = Annotated[list[str] | None, typer.Option(
    "--regime", help="gdpr, dora, nis2 or ai-act (repeatable); default all.")]
Out = Annotated[Path, typer.Option("--out", help="Where to write the signed report (JSON).")]
Json = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@audit_app.command("report")
def report(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey, out: Out, since: Since = None,
           until: Until = None, regime: Regimes = None,
           oscal: Annotated[Path | None, typer.Option(
               "--oscal", help="Also write OSCAL assessment-results and POA&M here.")] = None,
           html: Annotated[Path | None, typer.Option(
               "--html", help="Also write the report as HTML.")] = None,
           pdf: Annotated[Path | None, typer.Option(
               "--pdf", help="Also write the report as PDF (WeasyPrint).")] = None,
           ) -> None:
    """Generate the signed evidence report over a period, recorded in the ledger."""
    from sovra.compliance import generate_report as generate
    from sovra.compliance import oscal as oscal_out
    from sovra.compliance import parse_time

    end = time.time() if until is None else run(lambda: parse_time(until, "--until"))
    start = end - YEAR if since is None else run(lambda: parse_time(since, "--since"))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.report", _RESOURCE))
        made = run(lambda: generate(inst, since=start, until=end, regime_names=regime or [],
                                    actor=caller.principal_id))
    out.write_text(json.dumps(made.document, indent=1, ensure_ascii=False) + "\n",
                   encoding="utf-8")
    if oscal is not None:
        oscal.mkdir(parents=True, exist_ok=True)
        for name, value in oscal_out.results_documents(made.document).items():
            (oscal / name).write_text(json.dumps(value, indent=1) + "\n", encoding="utf-8")
    if html is not None or pdf is not None:
        from sovra.compliance import render
        if html is not None:
            html.write_text(render.to_html(made.document), encoding="utf-8")
        if pdf is not None:
            pdf.write_bytes(render.to_pdf(made.document))
    table = Table("control", "status", "summary")
    for c in made.document["controls"]:
        table.add_row(c["id"], c["status"], c["summary"])
    console.print(table)
    console.print(f"{len(made.document['findings'])} findings; report written to {out} "
                  f"(recorded as ledger entry {made.ledger_seq})")


@audit_app.command("check")
def check(report_path: Annotated[Path, typer.Argument(metavar="REPORT")],
          export: Annotated[Path | None, typer.Option(
              "--export", help="The ledger export (sovra ledger export) to check against.")
          ] = None,
          trusted_key: Annotated[list[str] | None, typer.Option(
              "--trusted-key", help="Pin the report key and the log key (repeatable).")
          ] = None,
          witness: Annotated[list[str] | None, typer.Option(
              "--witness", help="A witness whose cosignature is required (repeatable).")
          ] = None,
          as_json: Json = False) -> None:
    """Verify a report offline: signature, proofs, checkpoint, cosignatures, counts."""
    from sovra.compliance import check_report, read_report

    doc = run(lambda: read_report(report_path))
    result = run(lambda: check_report(doc, trusted_keys=trusted_key or [],
                                      witnesses=witness or [], export=export))
    if as_json:
        typer.echo(json.dumps({"valid": result.valid, "origin": result.origin,
                          "claims": result.claims, "entries": result.entries,
                          "findings": result.findings,
                          "checkpoint_size": result.checkpoint_size,
                          "witnesses": list(result.witnesses),
                          "problems": [str(p) for p in result.problems],
                          "notes": list(result.notes)}, indent=1))
    else:
        for note in result.notes:
            console.print(f"[yellow]note:[/] {note}", highlight=False)
        if result.valid:
            console.print(f"valid: {result.claims} claims over {result.entries} proven entries "
                          f"at checkpoint {result.checkpoint_size} of {result.origin}; "
                          f"{result.findings} findings; witnesses: "
                          f"{', '.join(result.witnesses) or 'none'}", highlight=False)
        for p in result.problems:
            typer.echo(f"INVALID {p}", err=True)
    if not result.valid:
        raise typer.Exit(EXIT_INVALID)


def _register(inst: Any) -> Any:
    from sovra.compliance import IncidentRegister
    return IncidentRegister(inst)


def _print_incident(incident: Any, now: float) -> None:
    from sovra.compliance import rfc3339
    console.print(f"{incident.id}  {incident.title}  classes: "
                  f"{', '.join(sorted(incident.classes)) or 'unclassified'}", highlight=False)
    table = Table("notification", "due", "sent", "state", "counts from")
    for d in incident.deadlines(now):
        table.add_row(d.kind, "-" if d.due is None else rfc3339(d.due),
                      "-" if d.sent_at is None else rfc3339(d.sent_at), d.state.value, d.basis)
    console.print(table)


@incident_app.command("open")
def open_incident(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey,
                  title: Annotated[str, typer.Option("--title")],
                  description: Annotated[str, typer.Option("--description")] = "",
                  source: Annotated[str, typer.Option(
                      "--source", help="manual, or the alert it came from")] = "manual",
                  aware_at: Annotated[str | None, typer.Option(
                      "--aware-at", help="When the organisation became aware; default now")
                  ] = None) -> None:
    """Open an incident (by hand or from an alert)."""
    from sovra.compliance import parse_time
    aware = None if aware_at is None else run(lambda: parse_time(aware_at, "--aware-at"))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.incident", _RESOURCE))
        made = run(lambda: _register(inst).open(caller.principal_id, title,
                                                description=description, source=source,
                                                aware_at=aware))
    console.print(f"opened {made.id}", highlight=False)


@incident_app.command("classify")
def classify(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey, incident_id: str,
             dora_major: Annotated[bool, typer.Option("--dora-major")] = False,
             nis2_significant: Annotated[bool, typer.Option("--nis2-significant")] = False,
             gdpr_breach: Annotated[bool, typer.Option("--gdpr-breach")] = False,
             reason: Annotated[str, typer.Option("--reason")] = "") -> None:
    """Classify an incident: this starts its legal clocks."""
    classes = frozenset(n for n, on in (("dora_major", dora_major),
                                        ("nis2_significant", nis2_significant),
                                        ("gdpr_breach", gdpr_breach)) if on)
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.incident", _RESOURCE))
        made = run(lambda: _register(inst).classify(caller.principal_id, incident_id,
                                                    classes, reason=reason))
    _print_incident(made, time.time())


@incident_app.command("notify")
def notify(ctx: typer.Context, api_key: ApiKey, incident_id: str,
           notification: Annotated[str, typer.Argument(help="e.g. dora.initial")],
           reference: Annotated[str, typer.Option("--reference")] = "") -> None:
    """Record that a notification was sent to the authority."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.incident", _RESOURCE))
        made = run(lambda: _register(inst).notify(caller.principal_id, incident_id,
                                                  notification, reference=reference))
    _print_incident(made, time.time())


@incident_app.command("list")
def list_incidents(ctx: typer.Context, api_key: ApiKey) -> None:
    """Every incident with its deadlines; overdue ones raise an alert (once each)."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.read", _RESOURCE))
        register = _register(inst)
        overdue = run(lambda: register.check_overdue(caller.principal_id))
        found = run(register.list)
    now = time.time()
    for incident in found:
        _print_incident(incident, now)
    for incident, d in overdue:
        console.print(f"[bold red]OVERDUE[/] {incident.id} {d.kind}", highlight=False)


@incident_app.command("draft")
def draft(ctx: typer.Context, api_key: ApiKey, incident_id: str, notification: str,
          pdf: Annotated[Path | None, typer.Option(
              "--pdf", help="Also write the draft as a PDF form.")] = None) -> None:
    """Print a pre-filled draft of a notification (JSON; --pdf for a PDF form)."""
    from sovra.compliance import draft_notification as make_draft
    with open_cli_instance(ctx) as inst:
        run(lambda: acting(inst, api_key, "compliance.read", _RESOURCE))
        incident = run(lambda: _register(inst).get(incident_id))
        entity = inst.ledger.checkpoints.verifier.name
    filled = run(lambda: make_draft(incident, notification, entity=entity, now=time.time()))
    if pdf is not None:
        from sovra.compliance import draft_pdf
        pdf.write_bytes(draft_pdf(filled))
    typer.echo(json.dumps(filled, indent=1))


@audit_app.command("records")
def records(ctx: typer.Context, api_key: ApiKey, out: Out) -> None:
    """GDPR Art. 30 records of processing, one per collection (JSON)."""
    from sovra.compliance import gather
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.read", _RESOURCE))
        found = run(lambda: gather.records_of_processing(inst, caller))
        data = json.dumps(found, indent=1).encode()
        run(lambda: gather.export(inst, caller, "records-of-processing", data, len(found)))
    out.write_bytes(data)
    console.print(f"{len(found)} records of processing written to {out}", highlight=False)


@audit_app.command("erasures")
def erasures(ctx: typer.Context, api_key: ApiKey, out: Out) -> None:
    """The erasure register (GDPR Art. 17): every subject erasure and its certificate."""
    from sovra.compliance import gather
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.read", _RESOURCE))
        found = run(lambda: gather.erasures(inst))
        data = json.dumps(found, indent=1).encode()
        run(lambda: gather.export(inst, caller, "erasure-register", data, len(found)))
    out.write_bytes(data)
    console.print(f"{len(found)} erasures written to {out}", highlight=False)


@audit_app.command("register-of-information")
def register_of_information(
        ctx: typer.Context, api_key: ApiKey, out: Out,
        inventory: Annotated[Path | None, typer.Option(
            "--inventory", help="Supplier inventory (.yaml or .csv).")] = None,
        sbom: Annotated[list[Path] | None, typer.Option(
            "--sbom", help="A CycloneDX SBOM beside those of imported bundles.")] = None,
) -> None:
    """The DORA register of information (B_05.01 providers) as CSV."""
    from sovra.compliance import gather, registers
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.read", _RESOURCE))
        rows = run(lambda: gather.register_of_information(inst, inventory, sbom or []))
        data = registers.register_csv(rows).encode()
        run(lambda: gather.export(inst, caller, "register-of-information", data, len(rows)))
    out.write_bytes(data)
    console.print(f"{len(rows)} ICT third-party providers written to {out}", highlight=False)


@audit_app.command("subject-report")
def subject_report(ctx: typer.Context, api_key: ApiKey,
                   subject: Annotated[str, typer.Argument(help="The subject's identifier.")],
                   ) -> None:
    """What the instance holds about a data subject (GDPR Art. 15), recorded."""
    from sovra.compliance import subject_report as report_subject
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "compliance.read", _RESOURCE))
        found = run(lambda: report_subject(inst, caller, subject))
    typer.echo(json.dumps(found, indent=1))
