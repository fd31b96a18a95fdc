"""``sovra sql`` (governed SQL) and ``sovra export`` (the outbound diode). Thin.

Each command authenticates the API key, calls one service method on the instance (the
same one the HTTP routes call) and prints the result. ``sovra export verify`` opens no
instance at all: it is what the receiving side runs, with the root it pinned.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import run
from sovra.cli.progress import Quiet, copy_with_progress, progress
from sovra.policy import Resource

if TYPE_CHECKING:
    from sovra.analytics import QueryResult

export_app = typer.Typer(
    help="The outbound diode: create, review, approve, fetch and verify exports.",
    no_args_is_help=True)
console = Console()
_EXPORT = Resource("Export")


# The model POST /analytics/ask proposes with unless told otherwise (the bundled one).
ASK_MODEL = "SmolLM2-135M-Instruct"


def sql(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey,
        query: Annotated[str, typer.Argument(
            help="One SELECT over collection.table names (or --ask).")] = "",
        output: Annotated[str, typer.Option(
            "--format", help="json, csv, or arrow (an Arrow IPC stream on stdout)")] = "json",
        max_rows: Annotated[int, typer.Option("--max-rows")] = 10_000,
        ask: Annotated[str, typer.Option(
            "--ask", help="A question in words: the local model proposes the SQL.")] = "",
        collections: Annotated[list[str] | None, typer.Option(
            "--collection", help="--ask: a collection whose tables the model may use "
            "(repeat for more).")] = None,
        model: Annotated[str, typer.Option(
            "--model", help="--ask: the chat model that proposes the SQL.")] = ASK_MODEL,
        propose_only: Annotated[bool, typer.Option(
            "--no-run", help="--ask: show and record the SQL, do not run it.")] = False,
) -> None:
    """Governed SQL over collections' tables: masked by clearance, recorded.

    One SELECT over collection.table names (a table is a CSV, TSV or JSON document), or
    ``--ask "question" --collection hr``: the same operation as POST /analytics/ask.
    """
    if bool(query) == bool(ask):
        _refuse('give either a SELECT or --ask "question" (one of them)')
    if ask and not collections:
        _refuse("--ask needs --collection: the collections whose tables the model may use")
    if ask:
        _ask(ctx, api_key, ask, collections or [], model, output=output,
             max_rows=max_rows, run_it=not propose_only)
        return
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "analytics.query", Resource("Collection")))
        result = run(lambda: inst.analytics.query(caller, query, max_rows=max_rows))
    _print_result(result, output)


def _ask(ctx: typer.Context, api_key: str, question: str, collections: list[str],
         model: str, *, output: str, max_rows: int, run_it: bool) -> None:
    """POST /analytics/ask's steps, in its order, on the same services: the prompt (only
    what the caller may query), the model's answer through the AI room's governed chat,
    the recorded proposal, then the same gate as typed SQL. The SQL is shown before it
    runs or is refused: in the JSON answer (the route's fields), or on stderr for csv
    and arrow, whose stdout is the result; a refusal exits non-zero, the SQL in its
    message."""
    import asyncio

    from sovra.analytics import GatewayProposer

    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "analytics.query", Resource("Collection")))
        instructions = run(lambda: inst.analytics.question_prompt(caller, question,
                                                                  collections))

        async def answer() -> str:
            try:
                return await GatewayProposer(inst.ai, model).answer(caller, instructions)
            finally:
                await inst.ai.aclose()

        written = run(lambda: asyncio.run(answer()))
        proposal = run(lambda: inst.analytics.propose(caller, question, model, written))
        if output != "json":
            Console(stderr=True).print(
                f"-- SQL proposed by {model} (ledger entry {proposal.ledger_seq}):\n"
                f"{proposal.sql or '(none)'}", highlight=False, markup=False)
        result = None
        if run_it or not proposal.allowed:  # a refusal is an error either way
            result = run(lambda: inst.analytics.run_proposal(caller, proposal,
                                                             max_rows=max_rows))
    if output == "json":
        from sovra.api import QueryOut

        typer.echo(json.dumps({
            "sql": proposal.sql, "model": proposal.model, "allowed": proposal.allowed,
            "reason": proposal.reason, "proposal_ledger_seq": proposal.ledger_seq,
            "result": None if result is None else QueryOut.of(result).model_dump(mode="json"),
        }, indent=2))
    elif result is not None:
        _print_result(result, output)


def _print_result(result: QueryResult, output: str) -> None:
    from sovra.api import QueryOut, result_csv

    if output == "arrow":
        from sovra.analytics import result_arrow

        sys.stdout.buffer.write(result_arrow(result))
        sys.stdout.buffer.flush()
    elif output == "csv":
        typer.echo(result_csv(result), nl=False)
    else:
        typer.echo(QueryOut.of(result).model_dump_json(indent=2))


def _refuse(message: str) -> NoReturn:
    from sovra.errors import InvalidInputError

    def refused() -> NoReturn:
        raise InvalidInputError(message)

    run(refused)
    raise AssertionError("unreachable: run exits on an error")  # pragma: no cover


@export_app.command("create")
def create(  # noqa: PLR0917 (Typer maps each parameter to an option)
           ctx: typer.Context, kind: Annotated[str, typer.Argument(
               help="support, usage, portability, compliance or threat")],
           api_key: ApiKey,
           collection: Annotated[str, typer.Option(
               "--collection", help="The collection (portability).")] = "",
           subject: Annotated[str, typer.Option(
               "--subject", help="compliance: the period SINCE..UNTIL (default the last "
               "year); threat: an alert status (default every alert).")] = "",
           quiet: Quiet = False) -> None:
    """Collect and redact an export; it waits for two approvers."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "export.create", _EXPORT))
        # Collecting and redacting reports no progress of its own: a pulsing bar says it
        # is working.
        with progress(f"collecting the {kind} export", quiet=quiet):
            made = run(lambda: inst.exports.create(caller, kind, collection or subject))
    console.print(f"export {made.id} ({made.kind}, {made.classification.label}) waits for "
                  "two approvers; review it with `sovra export review`", highlight=False)


@export_app.command("review")
def review(ctx: typer.Context, export_id: str, api_key: ApiKey) -> None:
    """Show the listing and the diff against the unredacted view."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "export.read", _EXPORT))
        found = run(lambda: inst.exports.review(caller, export_id))
    typer.echo(json.dumps(found.info.listing, indent=2))
    typer.echo(found.diff, nl=False)


@export_app.command("approve")
def approve(ctx: typer.Context, export_id: str, api_key: ApiKey) -> None:
    """Approve (never your own); the second approval signs and writes the bundle."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "export.read", _EXPORT))
        done = run(lambda: inst.exports.approve(caller, export_id))
    console.print(f"{export_id}: {done.state} ({len(done.approvers)}/2 approvals)",
                  highlight=False)


@export_app.command("list")
def list_exports(ctx: typer.Context, api_key: ApiKey) -> None:
    """Every export with its state, level and approvers."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "export.read", _EXPORT))
        found = run(lambda: inst.exports.list_exports(caller))
    for e in found:
        console.print(f"{e.id}  {e.kind:<12} {e.state:<9} {e.classification.label:<12} "
                      f"by {e.requester}; approved by {', '.join(e.approvers) or '-'}",
                      highlight=False)


@export_app.command("fetch")
def fetch(ctx: typer.Context, export_id: str, api_key: ApiKey,
          out: Annotated[Path, typer.Option("--out", help="Where to write the bundle.")],
          quiet: Quiet = False) -> None:
    """Copy a released bundle out (to removable media): only after two approvals."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "export.read", _EXPORT))
        path = run(lambda: inst.exports.bundle_path(caller, export_id))
        with progress(f"writing {out.name}", path.stat().st_size, quiet=quiet,
                      unit="bytes") as meter:
            copy_with_progress(path, out, meter)
    console.print(f"wrote {out}", highlight=False)



@export_app.command("root")
def root(ctx: typer.Context, api_key: ApiKey,
         out: Annotated[Path, typer.Option("--out", help="Where to write the root.")]) -> None:
    """Write the export root that receivers pin (hand it over once, out of band)."""
    with open_cli_instance(ctx) as inst:
        run(lambda: acting(inst, api_key, "export.read", _EXPORT))
        out.write_bytes(inst.exports.root())
    console.print(f"wrote {out}", highlight=False)


@export_app.command("verify")
def verify(bundle: Path, root_file: Annotated[Path, typer.Option(
               "--root", help="The site's export root, pinned out of band.")],
           out: Annotated[Path | None, typer.Option(
               "--out", help="Write the verified files here.")] = None) -> None:
    """Check a bundle offline on the receiving side (no Sovra server needed)."""
    from sovra.analytics import VerifiedExport, verify_export
    from sovra.errors import InvalidInputError

    def check() -> VerifiedExport:
        try:
            pinned = root_file.read_bytes()
        except OSError as exc:
            raise InvalidInputError(f"cannot read root {root_file}: {exc.strerror}") from exc
        return verify_export(bundle, pinned, datetime.now(UTC))

    verified = run(check)
    for line in verified.checks:
        console.print(f"ok  {line}", highlight=False)
    manifest = verified.manifest
    console.print(f"export {manifest.get('id')} ({manifest.get('kind')}, "
                  f"{manifest.get('classification')}) approved by "
                  f"{', '.join(manifest.get('approvers', []))}: VERIFIED", highlight=False)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in verified.files.items():
            (out / name).write_bytes(data)
