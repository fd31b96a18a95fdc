"""The cluster profile's database in a backup: pg_dump of one exported snapshot.

The manifest records the backed-up log's size and root; on PostgreSQL those must come
from exactly the state the dump holds, so both are read in one REPEATABLE READ
transaction whose snapshot ``pg_dump --snapshot`` then uses (PostgreSQL docs,
"pg_export_snapshot", "pg_dump --snapshot"). Restore loads the dump with ``pg_restore
--single-transaction``, so a failed load leaves the target database as it was (empty).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from sovra.continuity import manifest
from sovra.errors import ConfigError, ConflictError, StorageError
from sovra.ledger import merkle
from sovra.store import make_engine
from sovra.store.tables.ledger import ledger_entries

DUMP_NAME = "database.pgdump"
_TIMEOUT_S = 6 * 3600


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True)
    if candidates:
        return str(candidates[0])
    raise ConfigError(f"PostgreSQL's {name} was not found; run scripts/install-system-deps.sh")


def libpq_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _run(args: list[str], what: str) -> None:
    try:
        # Arguments are a found binary, fixed flags and our own URL/paths; no shell.
        subprocess.run(args, check=True, capture_output=True, text=True,  # noqa: S603
                       timeout=_TIMEOUT_S)
    except subprocess.CalledProcessError as exc:
        raise StorageError(f"{what} failed: {exc.stderr.strip()[-2000:]}") from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise StorageError(f"{what} failed: {exc}") from exc


def dump(engine: Engine, target: Path) -> manifest.LedgerHead:
    """Dump the database to ``target``; the ledger head of exactly what was dumped."""
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            snapshot = conn.execute(text("SELECT pg_export_snapshot()")).scalar_one()
            leaves = [bytes(h) for h in conn.execute(
                select(ledger_entries.c.leaf_hash).order_by(ledger_entries.c.seq)).scalars()]
            last = conn.execute(select(ledger_entries.c.body).order_by(
                ledger_entries.c.seq.desc()).limit(1)).scalar()
            _run([_binary("pg_dump"), "--format=custom", "--no-owner", "--no-privileges",
                  f"--snapshot={snapshot}", f"--file={target}",
                  f"--dbname={libpq_url(engine)}"], "pg_dump")
            conn.rollback()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot read a consistent snapshot of the database: {exc}"
                           ) from exc
    when = None if last is None else manifest.entry_time(bytes(last))
    return manifest.LedgerHead(len(leaves), merkle.root_of(leaves), when)


def require_empty(url: str) -> None:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            tables = conn.execute(text(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema NOT IN "
                "('pg_catalog', 'information_schema')")).scalar_one()
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot open the restore target database: {exc}") from exc
    finally:
        engine.dispose()
    if tables:
        raise ConflictError(f"the restore target database holds {tables} tables: a restore "
                            "never overwrites; create a new, empty database for it")


def table_rows(engine: Engine) -> dict[str, int]:
    """Rows of every table in the public schema, each counted by reading it in full."""
    try:
        with engine.connect() as conn:
            names = [str(r[0]) for r in conn.execute(text(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = "
                "'public' AND table_type = 'BASE TABLE' ORDER BY table_name"))]
            return {name: int(conn.execute(text(
                f'SELECT count(*) FROM "{name}"')).scalar_one())  # noqa: S608 - catalogue names
                for name in names}
    except SQLAlchemyError as exc:
        raise StorageError(f"the restored database cannot be read: {exc}") from exc


def load(url: str, dump_file: Path) -> None:
    engine = make_engine(url)
    try:
        target = libpq_url(engine)
    finally:
        engine.dispose()
    _run([_binary("pg_restore"), "--no-owner", "--no-privileges", "--single-transaction",
          "--exit-on-error", f"--dbname={target}", str(dump_file)], "pg_restore")


def empty(url: str) -> None:
    """Undo a load whose later checks failed (the target was verified empty before)."""
    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    except SQLAlchemyError as exc:
        raise StorageError(f"the restore failed and the target database could not be "
                           f"emptied again: {exc}") from exc
    finally:
        engine.dispose()

