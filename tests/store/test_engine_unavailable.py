"""A database that cannot be reached is StorageUnavailableError (HTTP 503, retry), not
a generic StorageError (HTTP 500): a PostgreSQL failover looks like this to every room
(issue 22, tests/cluster/test_pg_failover.py)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from sovra.errors import StorageUnavailableError
from sovra.store.engine import make_engine
from sovra.store.local_postgres import LocalPostgres
from tests.e2e.server import free_port


def test_a_server_that_is_down_is_unavailable_not_an_internal_error() -> None:
    port = free_port()  # nothing listens there
    engine = make_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/sovra"
                         "?connect_timeout=2")
    try:
        with pytest.raises(StorageUnavailableError, match="cannot be reached") as caught, \
                engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
    assert caught.value.retry_after_s > 0


@pytest.mark.postgres
def test_a_connection_the_server_ends_is_unavailable(postgres_server: LocalPostgres) -> None:
    engine = make_engine(postgres_server.create_database())
    try:
        with engine.connect() as conn:
            pid = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
            with engine.connect() as other:
                other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                other.commit()
            with pytest.raises(StorageUnavailableError):
                conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()
