"""``sovra ledger``: checkpoints, export, offline verification and witnessing.

``verify``, ``witness`` and ``witness-keygen`` work from files alone (no instance, no
database), so an auditor or an external witness runs them on their own machine.
Exit codes for ``verify``: 0 valid, 1 invalid, 3 unreadable (sovra.cli.errors).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from sovra.cli.context import options
from sovra.cli.errors import EXIT_INVALID, run
from sovra.cli.progress import Quiet, progress
from sovra.errors import InvalidInputError, NoteError, StorageError
from sovra.ledger import note as notes
from sovra.ledger import read_private, write_private
from sovra.ledger import witness as witnessing

if TYPE_CHECKING:
    # Imported where used: opening the instance imports every room (seconds), which
    # `verify` (files only) and `tail` (the ledger table only) do not need (issue 15).
    from sovra.instance import Instance
    from sovra.ledger import EntryRow, VerificationResult

app = typer.Typer(help="The tamper-evident ledger.", no_args_is_help=True)
console = Console()

LogKeyOpt = Annotated[str | None, typer.Option(
    "--log-key", "--trusted-key",
    help="Pin the log's key: origin+id+base64 as `sovra ledger key` prints it, or a bare "
    "base64 key with --origin (either inline or @file).", show_default=False)]
OriginOpt = Annotated[str | None, typer.Option(
    "--origin", help="The origin (log name) the pinned key is for; every checkpoint must "
    "carry it.", show_default=False)]


@contextmanager
def _opened(ctx: typer.Context) -> Iterator[Instance]:
    from sovra.instance import open_instance

    opened = run(lambda: open_instance(options(ctx).settings(), record_dev_unseal=False))
    try:
        yield opened
    finally:
        opened.close()


def _key_text(value: str) -> str:
    """A key given inline or as ``@path``."""
    if value.startswith("@"):
        return read_private(Path(value[1:])).strip()
    return value.strip()


def _verifier(value: str) -> notes.Verifier:
    try:
        return notes.parse_vkey(_key_text(value))
    except NoteError as exc:
        raise InvalidInputError(f"bad verifier key: {exc}") from exc


def _pinned(value: str, origin: str | None) -> notes.Verifier:
    try:
        return notes.parse_pinned_key(_key_text(value), origin)
    except NoteError as exc:
        raise InvalidInputError(f"bad log key: {exc}") from exc


@app.command("checkpoint")
def checkpoint_command(ctx: typer.Context) -> None:
    """Sign a checkpoint of the current tree now and print it."""
    with _opened(ctx) as opened:
        typer.echo(run(opened.ledger.sign_checkpoint), nl=False)


@app.command("key")
def key_command(ctx: typer.Context) -> None:
    """Print the log's verifier key, for auditors and witnesses to pin."""
    with _opened(ctx) as opened:
        typer.echo(opened.ledger.checkpoints.verifier.vkey)


@app.command("tail")
def tail_command(ctx: typer.Context, count: Annotated[int, typer.Option(
        "-n", "--count", min=1, max=10_000, help="How many entries.")] = 20) -> None:
    """Print the newest entries (canonical JSON, one per line)."""
    try:
        rows = _stored_tail(ctx, count)
    except StorageError:  # no ledger table yet: the instance creates it
        with _opened(ctx) as opened:
            rows = run(lambda: opened.ledger.tail(count))
    for row in rows:
        typer.echo(row.body.decode())


def _stored_tail(ctx: typer.Context, count: int) -> list[EntryRow]:
    """The newest stored rows, read from the ledger table alone: no instance, no log key,
    no unseal, so nothing is recorded and the other rooms are never imported."""
    from sovra.ledger import LedgerStore
    from sovra.store import make_engine

    settings = run(options(ctx).settings)
    if not settings.data_dir.exists():
        raise StorageError("no data directory yet")
    engine = make_engine(settings.effective_database_url,
                         busy_timeout_s=settings.db_busy_timeout_s)
    try:
        store = LedgerStore(engine)
        size = store.count()  # seq runs from 0 without gaps (the ledger's own invariant)
        return list(store.entries(max(0, size - count), size))
    finally:
        engine.dispose()


@app.command("show")
def show_command(ctx: typer.Context, seq: int, tree_size: Annotated[int | None, typer.Option(
        "--tree-size", help="Prove inclusion in this tree size (default: now).")] = None) -> None:
    """Print one entry with its inclusion proof."""
    with _opened(ctx) as opened:
        found = run(lambda: opened.ledger.entry_with_proof(seq, tree_size))
    typer.echo(json.dumps({"seq": found.seq, "entry": json.loads(found.body),
                           "leaf_hash": found.leaf_hash.hex(), "tree_size": found.tree_size,
                           "inclusion_proof": [h.hex() for h in found.proof]}, indent=2))


@app.command("consistency")
def consistency_command(ctx: typer.Context, first: int,
                        second: Annotated[int | None, typer.Argument(
                            help="Newer tree size (default: now).")] = None) -> None:
    """Print a consistency proof (one base64 hash per line), as ``witness`` reads it."""
    with _opened(ctx) as opened:
        proof = run(lambda: opened.ledger.consistency_proof(first, second))
    typer.echo(witnessing.format_proof(proof), nl=False)


@app.command("export")
def export_command(ctx: typer.Context, archive: Path, as_stored: Annotated[bool, typer.Option(
        "--as-stored", help="Sign nothing; export every stored row as it is (forensics).")
        ] = False, quiet: Quiet = False) -> None:
    """Write a self-contained archive (entries, checkpoints, cosignatures, keys)."""
    with _opened(ctx) as opened:
        problem = opened.ledger.integrity_problem
        # The export reports no progress of its own: a pulsing bar with the elapsed time
        # says it is working (issue 15).
        with progress(f"exporting {opened.ledger.size} entries", quiet=quiet):
            count = run(lambda: opened.ledger.export(archive, sign=not as_stored))
    if problem is not None:
        console.print(f"[yellow]warning:[/] storage does not match what the log signed "
                      f"({problem}); exported as stored, nothing signed", soft_wrap=True)
    console.print(f"exported {count} entries to {archive}")


@app.command("verify")
def verify_command(  # noqa: PLR0917 (Typer maps each parameter to an option)
    archive: Path,
    log_key: LogKeyOpt = None,
    origin: OriginOpt = None,
    witness: Annotated[list[str] | None, typer.Option(
        "--witness", help="Require a cosignature from this witness key (repeatable).")] = None,
    deep: Annotated[bool, typer.Option(
        "--deep", help="Also parse every entry and check its canonical form.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    workers: Annotated[int, typer.Option(
        "--workers", min=0, max=64,
        help="Hash in this many processes (0: one per usable CPU for large archives).")
        ] = 0,
    allow_unsigned_tail: Annotated[bool, typer.Option(
        "--allow-unsigned-tail",
        help="Accept entries after the newest checkpoint (unproven, still reported).")
        ] = False,
    quiet: Quiet = False,
) -> None:
    """Verify an export offline. Exit 0 valid, 1 invalid, 3 unreadable."""
    from sovra.ledger import verify_archive

    if origin is not None and not log_key:
        run(lambda: _raise(InvalidInputError("--origin names the origin of a pinned key: "
                                             "give the key with --log-key too")))
    pinned = run(lambda: _pinned(log_key, origin).vkey) if log_key else None
    witnesses = run(lambda: [_verifier(w).vkey for w in witness or []])
    # No refresh thread: verification forks its hashing processes only while it is the
    # process's one thread (ADR 0105).
    with progress(f"verifying {archive.name}", quiet=quiet, thread=False):
        result = run(lambda: verify_archive(archive, log_key=pinned, witnesses=witnesses,
                                            deep=deep, workers=workers,
                                            allow_unsigned_tail=allow_unsigned_tail))
    _render(result, as_json=as_json)
    if not result.valid:
        raise typer.Exit(EXIT_INVALID)


def _render(result: VerificationResult, *, as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps({
            "valid": result.valid, "origin": result.origin, "log_key": result.log_key,
            "entries": result.entries, "root_hash": result.root_hash.hex(),
            "checkpoints_verified": result.checkpoints_verified,
            "latest_checkpoint": result.latest_checkpoint,
            "unsigned_entries": result.unsigned_entries, "witnesses": result.witnesses,
            "processes": result.processes,
            "problems": [{"where": p.where, "position": p.position, "message": p.message}
                         for p in result.problems]}, indent=2))
        return
    verdict = "[bold green]VALID[/]" if result.valid else "[bold red]INVALID[/]"
    console.print(f"{verdict}  entries: {result.entries}, checkpoints verified: "
                  f"{result.checkpoints_verified}, newest at size {result.latest_checkpoint}")
    console.print(f"origin: {result.origin}", highlight=False, soft_wrap=True)
    console.print(f"log key: {result.log_key}", highlight=False, soft_wrap=True)
    console.print(f"hashed in {result.processes} process"
                  f"{'es' if result.processes > 1 else ''}", highlight=False)
    for name, size in sorted(result.witnesses.items()):
        console.print(f"witness {name} cosigned up to size {size}", highlight=False,
                      soft_wrap=True)
    if result.unsigned_entries:
        console.print(f"[yellow]note:[/] {result.unsigned_entries} newest entries are not "
                      "covered by any checkpoint yet")
    for problem in result.problems:
        console.print(f"[red]problem:[/] {problem}", highlight=False, soft_wrap=True)


@app.command("witness-keygen")
def witness_keygen_command(name: Annotated[str, typer.Argument(
        help="Witness name, a schema-less URL such as witness.example.org/w1.")],
        out: Annotated[Path, typer.Option("--out", help="Private key file to create.")]) -> None:
    """Make a witness key (cosignature/v1); prints the verifier key to share."""
    signer = run(lambda: notes.Signer.generate(name, notes.COSIGNATURE_V1))
    try:
        write_private(out, signer.skey + "\n", exclusive=True)
    except FileExistsError:
        run(lambda: _raise(InvalidInputError(f"{out} exists; refusing to overwrite a key")))
    typer.echo(signer.verifier.vkey)


def _raise(exc: Exception) -> None:
    raise exc


@app.command("witness")
def witness_command(  # noqa: PLR0917 (Typer maps each parameter to an option)
    key: Annotated[Path, typer.Option("--key", help="The witness's private key file.")],
    log_key: Annotated[str, typer.Option("--log-key", help="The log's verifier key or @file.")],
    state: Annotated[Path, typer.Option(
        "--state", help="The last checkpoint this witness cosigned (updated on success).")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the cosigned checkpoint.")],
    archive: Annotated[Path | None, typer.Option(
        "--archive", help="An export archive: verify it all and cosign its newest "
        "checkpoint.")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="A new signed checkpoint note.")] = None,
    proof: Annotated[Path | None, typer.Option(
        "--proof", help="Consistency proof from the state's size to the new one.")] = None,
) -> None:
    """Check a new checkpoint against the last one seen and cosign it, offline."""
    if (archive is None) == (checkpoint is None):
        run(lambda: _raise(InvalidInputError("give exactly one of --archive or --checkpoint")))
    signer = run(lambda: notes.parse_skey(read_private(key)))
    verifier = run(lambda: _verifier(log_key))
    previous = run(lambda: read_private(state)) if state.exists() else None
    now = int(time.time())
    if archive is not None:
        from sovra.ledger import read_archive

        contents = run(lambda: read_archive(archive))
        result = run(lambda: witnessing.cosign_archive(signer, verifier, previous, contents,
                                                       now=now))
    else:
        assert checkpoint is not None  # checked above
        new_note = run(lambda: read_private(checkpoint))
        hashes = run(lambda: witnessing.parse_proof(read_private(proof)) if proof else [])
        result = run(lambda: witnessing.cosign(signer, verifier, previous, new_note, hashes,
                                               now=now))
    # The state is the cosigned checkpoint itself: it carries the log's signature, so
    # the next run verifies it again before trusting it.
    write_private(out, result.note)
    write_private(state, result.note)
    if result.previous_size is None:
        console.print("[yellow]first checkpoint seen: trusted on first use[/]")
    console.print(f"cosigned {result.checkpoint.origin} at size {result.checkpoint.size}; "
                  f"wrote {out}", highlight=False)


@app.command("cosign-import")
def cosign_import_command(ctx: typer.Context, cosigned: Path, witness: Annotated[str, typer.Option(
        "--witness", help="The witness's verifier key or @file.")]) -> None:
    """Add a witness's cosignature (from ``witness``'s output) to the log."""
    note_text = run(lambda: read_private(cosigned))
    vkey = run(lambda: _verifier(witness)).vkey
    with _opened(ctx) as opened:
        size, name = run(lambda: opened.ledger.add_cosignature(note_text, vkey))
    console.print(f"stored the cosignature of {name} for size {size}", highlight=False)
