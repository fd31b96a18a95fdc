"""Issue 13, at the storage boundary (``sovra.store.make_engine``), on both profiles.

A lock held by another session makes a statement fail with ``StorageBusyError`` (HTTP
503 with Retry-After) after the busy timeout, on PostgreSQL (``lock_timeout``) as on
SQLite (``busy_timeout``), instead of waiting for as long as the lock is held. Values one
backend cannot take (NUL in text, numbers too large for the column) are the caller's
``InvalidInputError``, never a driver error that surfaces as a 500.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import Engine, insert, select, text

from sovra.errors import InvalidInputError, StorageBusyError
from sovra.store import make_engine, upgrade
from sovra.store.engine import postgres_options
from sovra.store.tables.identity import identity_principals
from sovra.store.tables.policy import policy_versions

BUSY_TIMEOUT_S = 0.5


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    made = make_engine(db_url, busy_timeout_s=BUSY_TIMEOUT_S)
    upgrade(made)
    yield made
    made.dispose()


def _principal(principal_id: str) -> dict[str, object]:
    return {"principal_id": principal_id, "kind": "user", "display_name": principal_id,
            "roles": "[]", "clearance": "public", "org_unit": "", "jurisdiction": "",
            "disabled": False, "created_at": 0.0, "created_by": "test"}


def test_a_held_lock_ends_in_storage_busy_after_the_bound(engine: Engine, db_url: str) -> None:
    if engine.dialect.name == "sqlite":
        other = sqlite3.connect(db_url.removeprefix("sqlite:///"), isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # SQLite: one writer at a time, file-wide
        release = other.rollback
    else:
        pg = psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://"))
        pg.execute("LOCK TABLE identity_principals IN ACCESS EXCLUSIVE MODE")
        release = pg.rollback
    try:
        with pytest.raises(StorageBusyError) as caught, engine.begin() as conn:
            conn.execute(insert(identity_principals).values(**_principal("p1")))
        assert caught.value.retry_after_s == BUSY_TIMEOUT_S
        assert "retry" in str(caught.value)
    finally:
        release()
    # Released: the same statement succeeds, the pool is not left broken.
    with engine.begin() as conn:
        conn.execute(insert(identity_principals).values(**_principal("p1")))


def test_nul_in_text_is_invalid_input_or_stored_intact(engine: Engine) -> None:
    """PostgreSQL cannot store NUL in text: the caller's InvalidInputError. SQLite can,
    and gives it back unchanged. Either way no driver error escapes."""
    try:
        with engine.begin() as conn:
            conn.execute(insert(identity_principals).values(**_principal("a\x00b")))
    except InvalidInputError as exc:
        assert engine.dialect.name == "postgresql"
        assert "NUL" in str(exc)
    else:
        assert engine.dialect.name == "sqlite"
        with engine.connect() as conn:
            got = conn.execute(select(identity_principals.c.principal_id)).scalar_one()
        assert got == "a\x00b"


@pytest.mark.parametrize("number", [2**31, 2**63, 2**70])
def test_number_too_large_for_the_column_is_invalid_input_or_not_found(
        engine: Engine, number: int) -> None:
    """PostgreSQL's ``integer`` is 32-bit, SQLite's 64-bit: a lookup by a number the
    column cannot hold finds nothing (SQLite) or is refused as the caller's input."""
    try:
        with engine.connect() as conn:
            found = conn.execute(select(policy_versions.c.version)
                                 .where(policy_versions.c.version == number)).first()
    except InvalidInputError as exc:
        assert "out of range" in str(exc)
        # SQLite holds every number up to 64 bits, so it only refuses beyond.
        assert engine.dialect.name == "postgresql" or number > 2**63 - 1
    else:
        assert found is None


def test_postgres_sessions_carry_the_bounds(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA busy_timeout")).scalar_one() == 500
        return
    with engine.connect() as conn:
        assert conn.execute(text("SHOW lock_timeout")).scalar_one() == "500ms"
        assert conn.execute(text("SHOW statement_timeout")).scalar_one() == "2s"
        assert conn.execute(text("SHOW idle_in_transaction_session_timeout")
                            ).scalar_one() == "2s"
    assert "lock_timeout=500" in postgres_options(BUSY_TIMEOUT_S)
