"""``sovra backup ...``, ``sovra restore`` and ``sovra continuity ...``: thin edges.

Every command that changes something takes the caller's API key (``--api-key`` or
SOVRA_API_KEY) and asks the policy first, as the API does, with the decision recorded:
``continuity.backup`` for backups, pruning and drills, ``continuity.restore`` for a
restore, decided by the restored instance's own policy (the source may be gone).
Backups run in this process against the data directory while ``sovra up`` keeps serving
(SQLite's online backup reads one consistent snapshot). In custodian mode this process
is sealed: pass ``--share-file`` (threshold times) to unseal it for the command, as for
``sovra keys rotate``; dev and HSM mode unseal themselves.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from sovra import continuity
from sovra.cli.commands.identity import ApiKey, acting
from sovra.cli.context import instance, options
from sovra.cli.errors import EXIT_INVALID, run
from sovra.cli.progress import Quiet, progress
from sovra.errors import InvalidInputError, NoteError
from sovra.instance import Instance
from sovra.ledger import note as notes
from sovra.policy import Resource

backup_app = typer.Typer(help="Encrypted, signed backups: create, list, verify, prune.",
                         no_args_is_help=True)
app = typer.Typer(help="Continuity: restore drills, status, accepting a rollback.",
                  no_args_is_help=True)
console = Console()

ShareFiles = Annotated[list[Path] | None, typer.Option(
    "--share-file", help="A custodian share file (repeat up to the threshold).",
    exists=True, dir_okay=False, show_default=False)]
DestOpt = Annotated[Path | None, typer.Option(
    "--dest", help="Backup folder (default SOVRA_BACKUP_DIR or <data dir>/backups); "
    "removable media work: a backup is a plain file set.", show_default=False)]
LogKey = Annotated[str, typer.Option(
    "--log-key", help="The instance's log key as `sovra ledger key` prints it (inline or "
    "@file): the manifest must be signed by it. Keep it outside the backup.")]
ApproverKey = Annotated[str, typer.Option(
    "--api-key", envvar="SOVRA_API_KEY", help="An approver's API key (env SOVRA_API_KEY).",
    show_default=False)]
_CONTINUITY = Resource("Continuity")


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


def _texts(share_files: Sequence[Path] | None) -> list[str]:
    return [p.read_text(encoding="ascii", errors="replace") for p in share_files or []]


def _unseal_here(opened: Instance, share_files: Sequence[Path] | None) -> None:
    if not opened.keys.seal_status().sealed:
        return
    for text in _texts(share_files):
        run(partial(opened.keys.submit_share, text, actor=_actor()))


def _verifier(value: str) -> notes.Verifier:
    text = Path(value[1:]).read_text(encoding="utf-8") if value.startswith("@") else value
    try:
        return notes.parse_vkey(text.strip())
    except NoteError as exc:
        raise InvalidInputError(f"--log-key is not a log key ({exc}); give the line "
                                "`sovra ledger key` printed") from exc


def _when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


# -- sovra backup -------------------------------------------------------------------------


@backup_app.command("create")
def create_command(ctx: typer.Context, api_key: ApiKey, dest: DestOpt = None,
                   include_weights: Annotated[
        bool, typer.Option("--include-weights", help="Include model weights (default: "
                           "listed by reference to the bundle that brought them).")] = False,
        share_file: ShareFiles = None) -> None:
    """Back up the whole instance: database, stored objects, configuration, policy packs."""
    with instance(ctx) as opened:
        caller = run(lambda: acting(opened, api_key, "continuity.backup", _CONTINUITY))
        _unseal_here(opened, share_file)
        made = run(lambda: continuity.create_backup(opened, actor=caller.principal_id,
                                                    dest=dest,
                                                    include_weights=include_weights))
        vkey = opened.ledger.checkpoints.verifier.vkey
    console.print(f"backup {made.backup_id}: {made.files} files, {made.bytes} bytes "
                  f"({made.stored_bytes} stored), ledger size {made.ledger.size}, "
                  f"{made.references} weights by reference\n{made.path}", highlight=False,
                  soft_wrap=True)
    console.print(f"verify or restore it with --log-key {vkey}", highlight=False,
                  soft_wrap=True)


@backup_app.command("list")
def list_command(ctx: typer.Context, dest: DestOpt = None) -> None:
    """Backups in the backup folder, oldest first (from their manifests, not verified)."""
    settings = run(options(ctx).settings)
    folder = dest or continuity.backup_root(settings)
    found = continuity.list_backups(folder)
    if not found:
        console.print(f"no backups in {folder}", highlight=False)
    for b in found:
        console.print(f"{b.backup_id}  {_when(b.created_at)}  {b.files} files  {b.bytes} bytes"
                      f"  ledger {b.ledger_size}", highlight=False)


@backup_app.command("verify")
def verify_command(backup: Annotated[Path, typer.Argument(help="The backup folder.")],
                   log_key: LogKey, quiet: Quiet = False) -> None:
    """Check the manifest's signature and every stored file's size and SHA-256 (no keys)."""
    trusted = run(lambda: _verifier(log_key))
    # The check reports no progress of its own: a pulsing bar says it is working.
    with progress(f"verifying {backup.name}", quiet=quiet):
        result = continuity.verify_backup(backup, trusted)
    if result.valid:
        console.print(f"valid: backup {result.backup_id}, "
                      f"{len(result.contents.files) if result.contents else 0} files verified",
                      highlight=False)
        return
    console.print("[bold red]INVALID[/]")
    for problem in result.problems:
        console.print(f"  {problem}", highlight=False, markup=False)
    raise typer.Exit(EXIT_INVALID)


@backup_app.command("prune")
def prune_command(ctx: typer.Context, api_key: ApiKey, dest: DestOpt = None,
                  keep_daily: Annotated[int | None, typer.Option(
                      "--keep-daily", min=0, help="Newest per day, for N days.")] = None,
                  keep_weekly: Annotated[int | None, typer.Option(
                      "--keep-weekly", min=0, help="Newest per ISO week, for M weeks.")] = None
                  ) -> None:
    """Remove the backups no retention rule keeps (the newest is always kept)."""
    with instance(ctx) as opened:
        caller = run(lambda: acting(opened, api_key, "continuity.backup", _CONTINUITY))
        plan = run(lambda: continuity.prune_backups(opened, actor=caller.principal_id,
                                                    dest=dest,
                                                    daily=keep_daily, weekly=keep_weekly))
    for kept in plan.keep:
        console.print(f"keep   {kept.backup_id}  ({', '.join(kept.reasons)})", highlight=False)
    for pruned in plan.prune:
        console.print(f"pruned {pruned}", highlight=False)


# -- sovra restore ------------------------------------------------------------------------


def restore_command(  # noqa: PLR0917 (Typer maps each parameter to an option)
    ctx: typer.Context,
    backup: Annotated[Path, typer.Argument(help="The backup folder.")],
    target: Annotated[Path, typer.Option("--target", help="A new, empty data directory.")],
    log_key: LogKey,
    api_key: ApiKey,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="The newest checkpoint note known outside the backup (from "
        "`sovra ledger checkpoint`, or a witness's cosigned copy): rollback detection.",
        exists=True, dir_okay=False, show_default=False)] = None,
    share_file: ShareFiles = None,
) -> None:
    """Restore a backup onto a new data directory: verified, all or nothing, unseal needed.

    A cluster-profile backup restores into the (new, empty) PostgreSQL database named by
    the global --database-url.
    """
    trusted = run(lambda: _verifier(log_key))
    note = checkpoint.read_text(encoding="utf-8") if checkpoint else None
    database_url = options(ctx).database_url
    done = run(lambda: continuity.restore(backup, target, trusted=trusted,
                                          shares=_texts(share_file), checkpoint=note,
                                          actor=_actor(), database_url=database_url,
                                          credential=api_key))
    console.print(f"restored backup {done.backup_id} into {done.target}: {done.files} files, "
                  f"{done.size_bytes} bytes, ledger size {done.ledger_size} "
                  f"({done.elapsed_s:.1f} s)", highlight=False, soft_wrap=True)
    for path in done.missing_references:
        console.print(f"weights by reference, re-import their bundle: {path}", highlight=False)
    if done.verdict.rolled_back:
        console.print(f"[bold red]ROLLBACK DETECTED[/]: {done.verdict.reason}", highlight=False)
        console.print("the restored instance refuses to serve until an approver runs "
                      "`sovra continuity accept-rollback`", highlight=False)
        raise typer.Exit(EXIT_INVALID)
    console.print(done.verdict.reason, highlight=False)


# -- sovra continuity ---------------------------------------------------------------------


@app.command("drill")
def drill_command(  # noqa: PLR0917 (Typer maps each parameter to an option)
        ctx: typer.Context, api_key: ApiKey, share_file: ShareFiles = None,
                  keep: Annotated[
        bool, typer.Option("--keep", help="Keep the scratch restore for inspection.")] = False,
        as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")
                           ] = False,
        scratch_database_url: Annotated[str | None, typer.Option(
            "--scratch-database-url", help="Cluster profile: a new, empty PostgreSQL "
            "database to restore into (emptied again after the drill).",
            show_default=False)] = None) -> None:
    """Back up, restore into scratch, verify, measure RTO and RPO; report and record."""
    with instance(ctx) as opened:
        caller = run(lambda: acting(opened, api_key, "continuity.backup", _CONTINUITY))
        _unseal_here(opened, share_file)
        report = run(lambda: continuity.run_drill(opened, actor=caller.principal_id,
                                                  shares=_texts(share_file), keep=keep,
                                                  scratch_database_url=scratch_database_url))
    if as_json:
        typer.echo(json.dumps(report.to_json(), indent=1))
    else:
        for check in report.checks:
            mark = "ok  " if check.passed else "n/a " if not check.evidenced else "FAIL"
            console.print(f"{mark} {check.name}: {check.detail}", highlight=False,
                          markup=False)
        console.print(f"RTO {report.rto_s:.2f} s (target {report.rto_target_s:.0f} s), RPO "
                      f"{report.rpo_s} s (target {report.rpo_target_s:.0f} s); report "
                      f"{report.report_path}", highlight=False, soft_wrap=True)
    if not report.passed:
        raise typer.Exit(EXIT_INVALID)


@app.command("status")
def status_command(ctx: typer.Context, as_json: Annotated[bool, typer.Option(
        "--json", help="Print as JSON.")] = False) -> None:
    """Last backup, last drill, measured RTO/RPO against targets, warnings."""
    settings = run(options(ctx).settings)
    found = run(lambda: continuity.status(settings))
    if as_json:
        typer.echo(json.dumps(found.__dict__, indent=1, default=str))
        return
    b, d = found.last_backup, found.last_drill
    last_backup = f"{b['backup_id']} at {_when(b['created_at'])}" if b else "none"
    last_drill = "none"
    if d:
        verdict = "passed" if d["passed"] else "FAILED"
        last_drill = f"{_when(d['at'])} {verdict}, RTO {d['rto_s']} s, RPO {d['rpo_s']} s"
    console.print(f"last backup: {last_backup}", highlight=False)
    console.print(f"last drill:  {last_drill}", highlight=False)
    console.print(f"targets:     RTO {found.rto_target_s:.0f} s, RPO {found.rpo_target_s:.0f} s",
                  highlight=False)
    for warning in found.warnings:
        console.print(f"[bold yellow]warning:[/] {warning}", highlight=False)


@app.command("accept-rollback")
def accept_rollback_command(ctx: typer.Context, api_key: ApproverKey, reason: Annotated[
        str, typer.Option("--reason", help="Why serving this older state is acceptable.")]
        ) -> None:
    """An approver accepts a detected rollback so the restored instance may serve again."""
    with instance(ctx) as opened:
        caller = run(lambda: opened.identity.authenticate(f"Bearer {api_key}", "cli"))
        done = run(lambda: continuity.accept_rollback(opened, caller, reason))
    console.print(f"rollback of backup {done.backup_id} accepted by {done.accepted_by}; "
                  f"evidence {done.evidence}", highlight=False, soft_wrap=True)
