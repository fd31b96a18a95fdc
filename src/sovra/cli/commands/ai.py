"""``sovra trace``, ``sovra demo`` and ``sovra models``: the AI gateway from the shell."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from sovra.cli.context import instance
from sovra.cli.errors import run
from sovra.cli.remote import OptionalApiKey, Url, remote_base
from sovra.cli.server import call

if TYPE_CHECKING:
    # Imported where used: the trace pulls in the gateway, which `sovra models list`
    # asking the server must not pay for (issue 15).
    from sovra.ai import Trace

console = Console()
models_app = typer.Typer(help="The model registry.", no_args_is_help=True)


def trace(
    ctx: typer.Context,
    request_id: Annotated[str, typer.Argument(help="The id a chat answer carried "
                                              "(x-request-id header, chatcmpl-...).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON only.")] = False,
) -> None:
    """Show who asked which model what, fed with which documents, with ledger proofs."""
    from sovra.ai import verify_trace

    with instance(ctx) as opened:
        found = run(lambda: opened.ai.trace_sync(request_id))
    run(lambda: verify_trace(found))
    if as_json:
        typer.echo(json.dumps(found.as_dict(), indent=2))
        return
    _render(found)


def _latency_ms(details: dict[str, object]) -> object:
    """``latency_us`` (integer microseconds); entries written before it hold
    ``latency_ms``."""
    micros = details.get("latency_us")
    return round(micros / 1000, 3) if isinstance(micros, int) else details.get("latency_ms")


def _render(found: Trace) -> None:
    req = found.request.body
    details = req.get("details", {})
    console.print(f"[bold]request[/] {found.request_id}  at {req.get('time')}", highlight=False)
    console.print(f"  principal      {req.get('actor')}", highlight=False)
    console.print(f"  model          {details.get('model')}  weights sha256 "
                  f"{details.get('weights_sha256')}", highlight=False)
    console.print(f"  decision       {details.get('decision')}: "
                  f"{'; '.join(details.get('reasons', []))}", highlight=False)
    console.print(f"  classification {details.get('classification')} (ceiling "
                  f"{details.get('ceiling')}, redacted spans {details.get('redacted_spans')})",
                  highlight=False)
    console.print(f"  collections    {', '.join(details.get('collections', [])) or '-'}",
                  highlight=False)
    for chunk in details.get("chunks", []):
        console.print(f"    chunk {chunk['chunk_id']}  document {chunk['document_id']} "
                      f"v{chunk['version']} #{chunk['position']}", highlight=False)
    console.print(f"  prompt sha256  {details.get('prompt_sha256')}", highlight=False)
    if found.outcome is not None:
        out = found.outcome.body
        od = out.get("details", {})
        console.print(f"[bold]outcome[/] {out.get('outcome')} ({od.get('reason')}) at "
                      f"{out.get('time')}", highlight=False)
        console.print(f"  answer sha256  {od.get('answer_sha256')}", highlight=False)
        console.print(f"  tokens         {od.get('prompt_tokens')} prompt + "
                      f"{od.get('completion_tokens')} completion; latency "
                      f"{_latency_ms(od)} ms", highlight=False)
    else:
        console.print("[bold]outcome[/] not recorded yet", highlight=False)
    if found.prompt_text is not None:
        console.print(f"[bold]kept prompt[/]\n{found.prompt_text}", highlight=False)
    if found.answer_text is not None:
        console.print(f"[bold]kept answer[/]\n{found.answer_text}", highlight=False)
    entries = [e for e in (found.request, found.outcome) if e is not None]
    for entry in entries:
        console.print(f"ledger entry {entry.seq}: leaf {entry.leaf_hash[:16]}…, inclusion "
                      f"proof of {len(entry.inclusion_proof)} hashes to root "
                      f"{entry.root_hash[:16]}… at tree size {entry.tree_size}: "
                      "[green]verified[/]", highlight=False)
    if found.checkpoint:
        console.print("[bold]signed checkpoint[/]\n" + found.checkpoint, highlight=False)


@models_app.command("list")
def list_models(ctx: typer.Context, api_key: OptionalApiKey = None, url: Url = None) -> None:
    """List registered models with their digest, licence, locality and ceiling.

    With an API key and a running server, the server is asked (quick; it lists the
    approved models); otherwise the data directory is opened and every registered model
    is listed.
    """
    base = remote_base(ctx, url, api_key)
    if base is not None:
        found = run(lambda: call("GET", f"{base}/v1/models", token=api_key))
        rows = [{"id": m["id"], **m.get("sovra", {})} for m in found.get("data", [])]
    else:
        with instance(ctx) as opened:
            records = run(opened.ai.registry.list)
        rows = [{"id": r.model_id, "kind": r.spec.kind, "locality": r.spec.locality,
                 "ceiling": r.spec.ceiling, "approved": r.approved, "sha256": r.spec.sha256,
                 "source": r.spec.source, "licence": r.spec.licence} for r in records]
    for row in rows:
        console.print(_model_text(row), highlight=False)


def _model_text(m: dict[str, Any]) -> str:
    """One model, the same whether the server or the data directory was asked."""
    state = "approved" if m.get("approved") else "NOT approved"
    return (f"{m['id']}  {m.get('kind')}  {m.get('locality')}  ceiling {m.get('ceiling')}  "
            f"{state}\n  sha256 {m.get('sha256')}\n  source {m.get('source')}  licence "
            f"{m.get('licence')}")


def demo(
    ctx: typer.Context,
    url: Annotated[str | None, typer.Option(
        "--url", show_default=False, help="The server's URL for the example (default: "
        "where `sovra up` on this data directory serves).")] = None,
) -> None:
    """Load the sample collection "demo" (a staff handbook, an incident report, a
    retention schedule) so you can ask questions over documents right away."""
    from sovra.ai import DEMO_EXAMPLE as EXAMPLE
    from sovra.ai import demo_caller, load_demo
    from sovra.cli.server import server_url
    from sovra.keys import start_for_up

    with instance(ctx) as opened:
        run(lambda: start_for_up(opened.keys))
        caller = run(lambda: demo_caller(opened))
        summary = run(lambda: load_demo(opened.data, caller))
    for result in summary.results:
        console.print(f"{result.status:9} {result.name}  ({result.chunks} chunks, "
                      f"{result.classification.label if result.classification else '-'})",
                      highlight=False)
    typer.echo("\nCollection demo is ready. With `sovra up` running, ask:\n")
    # Plain echo, not Rich: Rich wraps long lines at the terminal's width, inside the
    # string literals, and the example no longer ran when pasted (issue 15).
    typer.echo(EXAMPLE.format(url=server_url(ctx, url)))
