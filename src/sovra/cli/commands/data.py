"""``sovra data``: collections, ingest (files and folders), search, holds, retention, erasure.

Commands act as the principal whose API key is given (``--api-key`` or
``SOVRA_API_KEY``), decided by policy exactly as the API does. They run in-process, so
the instance must be able to unseal itself (HSM or development mode); a Shamir-sealed
instance is used through the API of the running server instead.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.commands.identity import acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.errors import EXIT_INVALID, run
from sovra.cli.progress import Quiet, bytes_of, progress
from sovra.cli.remote import Url, remote_base
from sovra.cli.server import request

if TYPE_CHECKING:
    from sovra.data import IngestSummary
    from sovra.policy import Resource

# The data and policy rooms are imported where a command opens the instance: importing
# them costs more than a read over HTTP, which `collection list` uses when a server runs.

app = typer.Typer(help="Governed data: collections, ingest, search, holds, retention, "
                       "erasure.", no_args_is_help=True)
collection_app = typer.Typer(help="Collections (GDPR Art. 30 records).", no_args_is_help=True)
hold_app = typer.Typer(help="Legal holds: block every deletion path.", no_args_is_help=True)
retention_app = typer.Typer(help="Retention: delete what outlived its purpose.",
                            no_args_is_help=True)
app.add_typer(collection_app, name="collection")
app.add_typer(hold_app, name="hold")
app.add_typer(retention_app, name="retention")
console = Console()

ApiKey = Annotated[str, typer.Option(
    "--api-key", envvar="SOVRA_API_KEY", help="Your API key (env SOVRA_API_KEY).",
    show_default=False)]


def _resource(kind: str, resource_id: str | None = None) -> Resource:
    from sovra.policy import Resource

    return Resource(kind) if resource_id is None else Resource(kind, resource_id)


@collection_app.command("create")
def collection_create(
    ctx: typer.Context, collection_id: str, *, api_key: ApiKey,
    owner: Annotated[str, typer.Option(help="Accountable owner (Art. 30(1)(a)).")],
    purpose: Annotated[str, typer.Option(help="Purpose of processing (Art. 30(1)(b)).")],
    subjects: Annotated[list[str], typer.Option("--subjects", help="Data-subject category "
                                                "(repeatable, Art. 30(1)(c)).")],
    data_category: Annotated[list[str], typer.Option("--data", help="Data category "
                                                     "(repeatable, Art. 30(1)(c)).")],
    retention_days: Annotated[int, typer.Option("--retention-days", help="Art. 30(1)(f).")],
    jurisdiction: Annotated[str, typer.Option(help="Residency tag, e.g. EU-DE.")],
    ceiling: Annotated[str, typer.Option(help="Highest classification allowed.")] = "confidential",
) -> None:
    """Create a collection with its GDPR Art. 30 record and its own keyring."""
    from sovra.data import CollectionSpec
    from sovra.policy import Classification

    spec = CollectionSpec(collection_id, owner, purpose, tuple(subjects), tuple(data_category),
                          retention_days, jurisdiction, run(lambda: Classification.parse(ceiling)))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "collections.create",
                                    _resource("Collection", collection_id)))
        created = run(lambda: inst.data.create_collection(caller, spec))
    console.print(f"created collection [bold]{created.id}[/] (keyring {created.keyring_id})")


@collection_app.command("list")
def collection_list(ctx: typer.Context, api_key: ApiKey, url: Url = None) -> None:
    """List the collections you may read (the running server is asked when one runs)."""
    base = remote_base(ctx, url, api_key)
    if base is not None:
        rows: list[dict[str, Any]] = run(lambda: request(
            "GET", f"{base}/data/collections", token=api_key).json())
    else:
        with open_cli_instance(ctx) as inst:
            caller = run(lambda: acting(inst, api_key, "collections.read",
                                        _resource("Collection")))
            found = run(lambda: inst.data.list_collections(caller))
        rows = [{"id": c.id, "owner": c.spec.owner, "purpose": c.spec.purpose,
                 "retention_days": c.spec.retention_days, "jurisdiction": c.spec.jurisdiction,
                 "ceiling": c.spec.ceiling.label, "legal_hold": c.legal_hold} for c in found]
    table = Table("id", "owner", "purpose", "retention", "jurisdiction", "ceiling", "hold")
    for c in rows:
        table.add_row(c["id"], c["owner"], c["purpose"], f"{c['retention_days']} d",
                      c["jurisdiction"], c["ceiling"], "yes" if c["legal_hold"] else "")
    console.print(table)


@app.command("ingest")
def ingest(
    ctx: typer.Context, collection_id: str,
    paths: Annotated[list[Path], typer.Argument(help="Files or folders.")], *,
    api_key: ApiKey,
    classification: Annotated[str, typer.Option(help="Declared label (the floor).")] = "public",
    quiet: Quiet = False,
) -> None:
    """Ingest files and folders; bad files are reported and the rest goes on."""
    from sovra.data import expand
    from sovra.policy import Classification

    declared = run(lambda: Classification.parse(classification))
    files = expand(paths)
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "collections.ingest",
                                    _resource("Collection", collection_id)))
        with progress("ingesting", bytes_of(files), quiet=quiet, unit="bytes") as meter:
            summary = run(lambda: inst.data.ingest_paths(caller, collection_id, files,
                                                         declared, meter.file_done))
    _print_summary(summary)
    if summary.failed:
        raise typer.Exit(EXIT_INVALID)


def _print_summary(summary: IngestSummary) -> None:
    table = Table("file", "status", "version", "classification", "chunks", "findings / error")
    for r in summary.results:
        detail = r.error or ", ".join(f"{k}: {v}" for k, v in r.findings.items())
        style = "red" if r.status == "failed" else None
        table.add_row(r.name, r.status, "" if r.version is None else str(r.version),
                      "" if r.classification is None else r.classification.label,
                      str(r.chunks),
                      detail, style=style)
    console.print(table)
    console.print(f"{summary.count('ingested')} ingested, {summary.count('unchanged')} "
                  f"unchanged, {summary.count('failed')} failed")


@app.command("search")
def search(ctx: typer.Context,
           query: Annotated[str, typer.Argument(help="What to look for, in words.")], *,
           api_key: ApiKey,
           collection: Annotated[list[str] | None, typer.Option(
               "--collection", show_default=False, help="Search this collection (repeat "
               "for several; default: every collection you may read).")] = None,
           k: Annotated[int, typer.Option(
               min=1, max=100, help="How many passages to return.")] = 5) -> None:
    """Hybrid search over what you may read; cites document, version and position."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "documents.read", _resource("Collection")))
        hits = run(lambda: inst.data.retrieve(caller, query, collection, k))
    for hit in hits:
        page = f" p.{hit.page}" if hit.page else ""
        console.print(f"[bold]{hit.document_id} v{hit.version} #{hit.chunk_index}{page} "
                      f"[{hit.start}:{hit.end}][/] {hit.classification.label} "
                      f"score {hit.score:.4f}", highlight=False)
        console.print(hit.text, highlight=False, markup=False)


@hold_app.command("set")
def hold_set(ctx: typer.Context, collection_id: str, *, api_key: ApiKey,
             reason: Annotated[str, typer.Option(help="Case or matter reference.")],
             document: Annotated[str | None, typer.Option(help="Only this document.")] = None
             ) -> None:
    """Set a legal hold on a collection (or one document)."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "collections.hold",
                                    _resource("Collection", collection_id)))
        hold = run(lambda: inst.data.set_hold(caller, collection_id, reason, document))
    console.print(f"legal hold {hold.id} set on {collection_id}")


@hold_app.command("release")
def hold_release(ctx: typer.Context, collection_id: str, hold_id: int, *,
                 api_key: ApiKey) -> None:
    """Release a legal hold."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "collections.hold",
                                    _resource("Collection", collection_id)))
        run(lambda: inst.data.release_hold(caller, hold_id, collection_id))
    console.print(f"legal hold {hold_id} released")


@retention_app.command("run")
def retention_run(ctx: typer.Context, api_key: ApiKey) -> None:
    """Delete (and crypto-erase) every document past its collection's retention."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "collections.erase", _resource("Collection")))
        report = run(lambda: inst.data.run_retention(caller.principal_id))
    console.print(f"{len(report.deleted)} deleted, {len(report.held)} kept by legal holds")


@app.command("erase")
def erase(ctx: typer.Context, *, api_key: ApiKey,
          subject: Annotated[str, typer.Option(help="The data subject's identifier.")],
          out: Annotated[Path | None, typer.Option(help="Write the certificate here.")] = None
          ) -> None:
    """Erase everything that mentions a data subject (GDPR Art. 17); print the certificate."""
    from sovra.data import verify_certificate

    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "collections.erase", _resource("Collection")))
        certificate = run(lambda: inst.data.erase_subject(caller, subject))
    if out is not None:
        out.write_text(certificate + "\n", encoding="utf-8")
    body = verify_certificate(certificate)
    erased = body.get("erased")
    withheld = body.get("withheld")
    console.print(f"erased {len(erased) if isinstance(erased, list) else 0} documents, "
                  f"withheld {len(withheld) if isinstance(withheld, list) else 0}; "
                  f"certificate {body['id']}")
    if out is None:
        console.print_json(certificate)


@app.command("verify-certificate")
def verify(path: Path) -> None:
    """Verify an erasure certificate's signature offline."""
    from sovra.data import verify_certificate

    body = run(lambda: verify_certificate(path.read_text(encoding="utf-8")))
    console.print(f"valid: certificate {body['id']}, ledger entry {json.dumps(body['ledger'])}")
