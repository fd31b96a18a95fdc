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
from typing import Annotated

import typer
from rich.console import Console

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import run
from sovra.cli.progress import Quiet, copy_with_progress, progress
from sovra.policy import Resource

export_app = typer.Typer(
    help="The outbound diode: create, review, approve, fetch and verify exports.",
    no_args_is_help=True)
console = Console()
_EXPORT = Resource("Export")


def sql(ctx: typer.Context, query: Annotated[str, typer.Argument(
            help="One SELECT over collection.table names.")],
        api_key: ApiKey,
        output: Annotated[str, typer.Option(
            "--format", help="json, csv, or arrow (an Arrow IPC stream on stdout)")] = "json",
        max_rows: Annotated[int, typer.Option("--max-rows")] = 10_000) -> None:
    """Governed SQL over collections' tables: masked by clearance, recorded.

    One SELECT over collection.table names (a table is a CSV, TSV or JSON document).
    """
    from sovra.api import QueryOut, result_csv

    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "analytics.query", Resource("Collection")))
        result = run(lambda: inst.analytics.query(caller, query, max_rows=max_rows))
    if output == "arrow":
        from sovra.analytics import result_arrow

        sys.stdout.buffer.write(result_arrow(result))
        sys.stdout.buffer.flush()
    elif output == "csv":
        typer.echo(result_csv(result), nl=False)
    else:
        typer.echo(QueryOut.of(result).model_dump_json(indent=2))


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
