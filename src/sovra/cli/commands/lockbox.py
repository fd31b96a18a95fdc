"""``sovra access`` (requests, approvals, grants) and ``sovra lockbox`` (status, report).

Thin: each command authenticates the API key, calls one lockbox service method on the
instance (the same one the HTTP routes call) and prints the result.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance as open_cli_instance
from sovra.cli.context import options
from sovra.cli.errors import EXIT_DENIED, EXIT_INVALID, fail, run, stderr
from sovra.cli.remote import Url, remote_base
from sovra.cli.server import call
from sovra.errors import InvalidInputError, StorageError
from sovra.lockbox import DEV_MODE_LOCKBOX_WARNING, AccessRequest, RequestSpec, Scope, report_json
from sovra.policy import Resource

if TYPE_CHECKING:
    # Imported where used (issue 15): `lockbox status` asking the server needs no rooms
    # (and no httpx: sovra.cli.server speaks plain HTTP with the standard library).
    import httpx

    from sovra.instance import Instance

access_app = typer.Typer(help="Ask for, approve and end time-boxed privileged access.",
                         no_args_is_help=True)
lockbox_app = typer.Typer(help="The lockbox's status and evidence.", no_args_is_help=True)
console = Console()

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_ANY = Resource("AccessRequest")

ScopeOpt = Annotated[str, typer.Option(
    "--scope", help="collection:ID, document:ID, keyring:ID or instance.")]
Actions = Annotated[list[str], typer.Option(
    "--action", help="A privileged action (repeatable), e.g. documents.read.")]
Reason = Annotated[str, typer.Option("--reason", help="Why (required).")]
Ticket = Annotated[str, typer.Option("--ticket", help="Ticket reference.")]
Duration = Annotated[str | None, typer.Option(
    "--duration", help="How long the grant lasts once approved: 90s, 30m, 1h.")]
Comment = Annotated[str, typer.Option("--comment", help="A note kept with the vote.")]


def parse_duration(text: str) -> float:
    """``90s``, ``30m``, ``1h``, ``2d`` or plain seconds."""
    found = _DURATION.match(text)
    if found is None:
        raise InvalidInputError(f"cannot read duration {text!r}; write for example 30m or 1h")
    return float(found.group(1)) * _UNITS[found.group(2) or "s"]


def _when(ts: float | None) -> str:
    return "-" if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _spec(scope: str, actions: list[str], reason: str, ticket: str, duration: str | None, *,
          urgency: str, single_use: bool, supervised: bool = False) -> RequestSpec:
    return RequestSpec(scope=Scope.parse(scope), actions=tuple(actions), reason=reason,
                       ticket=ticket,
                       duration_s=None if duration is None else parse_duration(duration),
                       urgency=urgency, single_use=single_use, supervised=supervised)


def _table(inst: Instance, found: list[AccessRequest]) -> Table:
    table = Table("id", "state", "requester", "scope", "actions", "approvals", "expires",
                  "reason")
    for r in found:
        table.add_row(r.id, inst.lockbox.state(r).value, r.requester, str(r.scope),
                      ",".join(r.actions), f"{r.approvals}/{r.required}",
                      _when(r.expires_at or r.request_expires_at), r.reason)
    return table


def _show(inst: Instance, req: AccessRequest) -> None:
    console.print(json.dumps({
        "id": req.id, "state": inst.lockbox.state(req).value, "requester": req.requester,
        "jurisdiction": req.jurisdiction, "scope": str(req.scope),
        "actions": list(req.actions), "reason": req.reason, "ticket": req.ticket,
        "breakglass": req.breakglass, "tier": req.tier,
        "approvals": f"{req.approvals}/{req.required}",
        "created": _when(req.created_at), "granted": _when(req.granted_at),
        "expires": _when(req.expires_at), "ended": _when(req.ended_at),
        "ended_by": req.ended_by, "end_reason": req.end_reason,
        "review_due": _when(req.review_due),
        "votes": [{"voter": v.voter, "kind": v.kind.value, "jurisdiction": v.jurisdiction,
                   "at": _when(v.at), "comment": v.comment} for v in req.votes],
    }, indent=2), highlight=False, soft_wrap=True)


@access_app.command("request")
def request(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey, scope: ScopeOpt, action: Actions,
            reason: Reason = "", ticket: Ticket = "", duration: Duration = None,
            urgency: Annotated[str, typer.Option(help="low, normal, high, emergency")]
            = "normal",
            single_use: Annotated[bool, typer.Option("--single-use")] = False,
            supervised: Annotated[bool, typer.Option(
                "--supervised", help="Usable only while an approver watches.")] = False,
            ) -> None:
    """Ask for a time-boxed grant; approvers are asked by policy (tier quorum)."""
    spec = run(lambda: _spec(scope, action, reason, ticket, duration, urgency=urgency,
                                  single_use=single_use, supervised=supervised))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "lockbox.request", _ANY))
        made = run(lambda: inst.lockbox.request(caller, spec, source="cli"))
    console.print(f"request {made.id} waits for {made.required} approval(s) until "
                  f"{_when(made.request_expires_at)}", highlight=False, soft_wrap=True)


@access_app.command("breakglass")
def breakglass(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey, scope: ScopeOpt, action: Actions,
               reason: Reason = "", ticket: Ticket = "", duration: Duration = None) -> None:
    """Open an emergency grant now (alerts; reviewed by approvers within 24 h)."""
    spec = run(lambda: _spec(scope, action, reason, ticket, duration,
                                  urgency="emergency", single_use=False))
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "lockbox.breakglass", _ANY))
        made = run(lambda: inst.lockbox.breakglass(caller, spec, source="cli"))
    console.print(f"BREAK-GLASS grant {made.id} is active until {_when(made.expires_at)}; "
                  f"review due {_when(made.review_due)}", highlight=False, soft_wrap=True)


def _vote(ctx: typer.Context, api_key: str, request_id: str, kind: str, comment: str) -> None:
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "lockbox.read", _ANY))
        box = inst.lockbox
        method = {"approve": box.approve, "deny": box.deny, "review": box.review}[kind]
        done = run(lambda: method(caller, request_id, source="cli", comment=comment))
        state = box.state(done).value
    console.print(f"{request_id}: {kind} recorded; now {state} "
                  f"({done.approvals}/{done.required} approvals)", highlight=False)


@access_app.command("approve")
def approve(ctx: typer.Context, request_id: str, api_key: ApiKey, comment: Comment = "") -> None:
    """Approve a pending request (never your own; once per approver)."""
    _vote(ctx, api_key, request_id, "approve", comment)


@access_app.command("deny")
def deny(ctx: typer.Context, request_id: str, api_key: ApiKey, comment: Comment = "") -> None:
    """Deny a pending request (by default one denial ends it)."""
    _vote(ctx, api_key, request_id, "deny", comment)


@access_app.command("review")
def review(ctx: typer.Context, request_id: str, api_key: ApiKey, comment: Comment = "") -> None:
    """Review a break-glass grant after the fact."""
    _vote(ctx, api_key, request_id, "review", comment)


@access_app.command("revoke")
def revoke(ctx: typer.Context, request_id: str, api_key: ApiKey,
           reason: Annotated[str, typer.Option("--reason")] = "") -> None:
    """End a request or grant now; the next request under it is refused."""
    with open_cli_instance(ctx) as inst:
        caller = run(lambda: acting(inst, api_key, "lockbox.read", _ANY))
        run(lambda: inst.lockbox.revoke(caller, request_id, reason=reason))
    console.print(f"{request_id} revoked", highlight=False)


@access_app.command("list")
def list_requests(ctx: typer.Context, api_key: ApiKey) -> None:
    """Every request and grant, oldest first (history stays after expiry)."""
    with open_cli_instance(ctx) as inst:
        run(lambda: acting(inst, api_key, "lockbox.read", _ANY))
        console.print(_table(inst, run(inst.lockbox.list)))


@access_app.command("show")
def show(ctx: typer.Context, request_id: str, api_key: ApiKey) -> None:
    """One request or grant with its votes, as JSON."""
    with open_cli_instance(ctx) as inst:
        run(lambda: acting(inst, api_key, "lockbox.read", _ANY))
        _show(inst, run(lambda: inst.lockbox.get(request_id)))


@lockbox_app.command("status")
def status(ctx: typer.Context, api_key: ApiKey, url: Url = None) -> None:
    """Pending requests, live grants, findings; exits 1 when there are findings.

    The running server is asked when one runs; otherwise the data directory is opened."""
    base = remote_base(ctx, url, api_key)
    if base is not None:
        found: dict[str, Any] = run(lambda: call("GET", f"{base}/lockbox/status",
                                                 token=api_key))
    else:
        with open_cli_instance(ctx) as inst:
            run(lambda: acting(inst, api_key, "lockbox.read", _ANY))
            here = run(inst.lockbox.status)
        found = {"pending": len(here.pending), "active": len(here.active),
                 "enforced": here.enforced, "findings": list(here.findings)}
    console.print(f"pending requests: {found['pending']}; live grants: {found['active']}",
                  highlight=False)
    if not found.get("enforced", True):
        console.print(DEV_MODE_LOCKBOX_WARNING, style="bold red", highlight=False)
    for finding in found.get("findings", []):
        console.print(f"[bold red]finding:[/] {finding}", highlight=False, soft_wrap=True)
    if found.get("findings"):
        raise typer.Exit(EXIT_INVALID)


def parse_since(text: str) -> float:
    """A date (``2026-12-01``) or an ISO 8601 time; UTC unless it names an offset."""
    try:
        found = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInputError(f"cannot read date {text!r}; write for example 2026-12-01"
                                ) from exc
    return (found if found.tzinfo else found.replace(tzinfo=UTC)).timestamp()


@lockbox_app.command("report")
def report(ctx: typer.Context, api_key: ApiKey,
           since: Annotated[str, typer.Option("--since", help="A date: 2026-12-01.")]
           = "1970-01-01") -> None:
    """Each grant since DATE: who, what, why, approvals, use, end; with ledger proofs."""
    start = run(lambda: parse_since(since))
    with open_cli_instance(ctx) as inst:
        run(lambda: acting(inst, api_key, "ledger.read", Resource("Ledger")))
        found = run(lambda: inst.lockbox.report(inst.ledger, since=start))
    typer.echo(json.dumps(report_json(found), indent=2))


@access_app.command("watch")
def watch(ctx: typer.Context, request_id: str, api_key: ApiKey,
          url: Annotated[str | None, typer.Option(
              "--url", help="The running server (default: http://HOST:PORT of the settings)."
          )] = None) -> None:
    """Follow a grant live from the running server; a supervised grant works only while
    an approver watches. End it with: sovra access revoke ID."""
    import httpx

    if url is None:
        settings = run(options(ctx).settings)
        url = f"http://{settings.host}:{settings.port}"
    base = url.rstrip("/")
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "text/event-stream"}
    try:
        with httpx.stream("GET", f"{base}/lockbox/grants/{request_id}/events",
                          headers=headers, timeout=httpx.Timeout(10, read=None)) as stream:
            if stream.status_code != 200:
                stream.read()
                raise typer.Exit(_watch_refused(stream))
            for event, data in _server_events(stream.iter_lines()):
                console.print(f"{event}: {data}", highlight=False, soft_wrap=True)
                if event == "ended":
                    return
    except httpx.HTTPError as exc:
        fail(StorageError(f"cannot reach the server at {base}: {exc}; is sovra up running?"))


def _watch_refused(stream: httpx.Response) -> int:
    stderr.print(f"[bold red]error:[/] {stream.status_code} {stream.text}", highlight=False)
    return EXIT_DENIED if stream.status_code in (401, 403) else EXIT_INVALID


def _server_events(lines: Iterator[str]) -> Iterator[tuple[str, str]]:
    """(event, data) pairs from a text/event-stream."""
    event, data = "message", ""
    for line in lines:
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            data = line[5:].strip()
        elif not line and data:
            yield event, data
            event, data = "message", ""
