"""Database engines for both profiles, with the settings durability depends on.

Both profiles bound how long a statement waits for another session (issue 13): SQLite's
busy timeout, and on PostgreSQL ``lock_timeout`` with the same value, plus a
``statement_timeout`` and an ``idle_in_transaction_session_timeout`` so that neither a
runaway statement nor a session left open in a transaction holds locks for ever. A wait
that runs out becomes ``StorageBusyError`` (HTTP 503 with ``Retry-After``) here, at the
boundary, as does a value PostgreSQL's ``text`` cannot hold (``InvalidInputError``).
"""

from __future__ import annotations

import functools
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import ExceptionContext
from sqlalchemy.exc import SQLAlchemyError

from sovra.errors import (
    InvalidInputError,
    StorageBusyError,
    StorageError,
    StorageUnavailableError,
)

# How long a statement may wait for a lock another session holds, on both profiles.
DEFAULT_BUSY_TIMEOUT_S = 30.0
# A statement may run this many busy timeouts in all (so a lock wait always ends as a
# lock timeout first), and a transaction may sit idle this many before the server ends
# the session and releases its locks.
_STATEMENT_FACTOR = 4
_IDLE_IN_TRANSACTION_FACTOR = 4

# SQLSTATEs of a bounded wait that ran out: lock_not_available (lock_timeout, NOWAIT),
# query_canceled (statement_timeout), idle_in_transaction_session_timeout.
_BUSY_SQLSTATES = frozenset({"55P03", "57014", "25P03"})
# The server is gone or going (issue 22: a PostgreSQL failover looks like this):
# admin_shutdown, crash_shutdown, cannot_connect_now, and read_only_sql_transaction
# (a demoted primary). Class 08 (connection exceptions) is matched by prefix.
_UNAVAILABLE_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "25006"})
# numeric_value_out_of_range: a parameter too large for the column's type.
_OUT_OF_RANGE = "22003"


def _configure_sqlite(dbapi_connection: Any, _record: Any, *, busy_ms: int) -> None:
    # WAL lets readers run beside the one writer; synchronous=FULL makes a commit
    # durable across power loss (NORMAL only survives a process crash), which is
    # what "durable before acknowledged" promises. Group commit pays for the fsync.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={busy_ms:d}")
    cursor.close()


def postgres_options(busy_timeout_s: float) -> str:
    """The libpq ``options`` that bound every wait of a PostgreSQL session.

    Sent in the startup packet, so they cost no round trip and hold on every connection
    the pool opens, the ledger writer's raw one included.
    """
    busy_ms = _milliseconds(busy_timeout_s)
    return (f"-c lock_timeout={busy_ms:d} "
            f"-c statement_timeout={busy_ms * _STATEMENT_FACTOR:d} "
            f"-c idle_in_transaction_session_timeout={busy_ms * _IDLE_IN_TRANSACTION_FACTOR:d}")


def make_engine(url: str, *, echo: bool = False,
                busy_timeout_s: float = DEFAULT_BUSY_TIMEOUT_S) -> Engine:
    """Create an engine for ``url`` (``sqlite:///...`` or ``postgresql+psycopg://...``);
    no statement waits longer than ``busy_timeout_s`` for another session's lock."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if not busy_timeout_s > 0:
        raise StorageError(f"the busy timeout must be positive, not {busy_timeout_s}")
    try:
        if url.startswith("sqlite"):
            engine = create_engine(
                url,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": busy_timeout_s},
                pool_pre_ping=False,
            )
            event.listen(engine, "connect", functools.partial(
                _configure_sqlite, busy_ms=_milliseconds(busy_timeout_s)))
        else:
            engine = create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10,
                                   connect_args={"options": postgres_options(busy_timeout_s)})
    except (SQLAlchemyError, ImportError, ValueError) as exc:
        raise StorageError(f"cannot open database {url!r}: {exc}") from exc
    event.listen(engine, "handle_error", functools.partial(
        _translate_error, retry_after_s=busy_timeout_s))
    return engine


def _milliseconds(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _translate_error(context: ExceptionContext, *, retry_after_s: float) -> None:
    """Raise the Sovra error for a database failure that has one; others pass on.

    Raised from SQLAlchemy's ``handle_error`` hook, so the room that ran the statement
    sees ``StorageBusyError`` or ``InvalidInputError`` rather than the ``StorageError``
    it wraps a generic failure in, whichever statement it was.
    """
    original = context.original_exception
    if _is_busy(original):
        raise StorageBusyError(
            "the database is busy: another session held a lock (or the statement ran) "
            f"past the {retry_after_s:g} s bound; nothing was changed, retry the request",
            retry_after_s=retry_after_s) from original
    if _is_unavailable(context):
        raise StorageUnavailableError(
            "the database cannot be reached (restarting, failing over, or the connection "
            f"was lost): {type(original).__name__}; the request may not have completed, "
            "retry it shortly", retry_after_s=1.0) from original
    if _is_nul_refusal(original):
        raise InvalidInputError(
            "a value contains a NUL character (U+0000), which the database cannot "
            "store; remove it") from original
    if getattr(original, "sqlstate", None) == _OUT_OF_RANGE or isinstance(
            original, OverflowError):  # SQLite's driver: beyond 64 bits
        # PostgreSQL's integer columns are 32-bit where SQLite's are 64: a number that
        # passed the API's 64-bit check can still be too large for the column; and a
        # caller other than the API may send one beyond 64 bits.
        raise InvalidInputError(
            "a number in the request is out of range for the database column it is "
            "compared with or stored in; send a smaller number") from original


def _is_busy(exc: BaseException) -> bool:
    if getattr(exc, "sqlstate", None) in _BUSY_SQLSTATES:
        return True
    # SQLite: SQLITE_BUSY / SQLITE_LOCKED after the busy timeout.
    message = str(exc)
    return type(exc).__name__ == "OperationalError" and (
        "database is locked" in message or "database table is locked" in message)


def _is_unavailable(context: ExceptionContext) -> bool:
    if context.is_disconnect:
        return True
    sqlstate = getattr(context.original_exception, "sqlstate", None)
    if sqlstate is None:
        # psycopg raises OperationalError without a SQLSTATE when it cannot connect.
        return (type(context.original_exception).__name__ == "OperationalError"
                and context.dialect is not None and context.dialect.name == "postgresql")
    return str(sqlstate) in _UNAVAILABLE_SQLSTATES or str(sqlstate).startswith("08")


def _is_nul_refusal(exc: BaseException) -> bool:
    # psycopg refuses to send the value before PostgreSQL sees it (no SQLSTATE).
    return type(exc).__name__ == "DataError" and "NUL" in str(exc)


__all__ = ["DEFAULT_BUSY_TIMEOUT_S", "make_engine", "postgres_options"]
