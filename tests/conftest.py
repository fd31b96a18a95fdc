"""Shared fixtures: a real PostgreSQL server on loopback, and per-test databases.

``db_url`` is parametrized over both profiles, so a test that takes it runs against a
real SQLite file and a real PostgreSQL database. The server is started once per test
session (``sovra.store.local_postgres``) and removed at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sovra.config import Settings, load_settings
from sovra.instance import Instance, open_instance
from sovra.store.local_postgres import LocalPostgres, local_postgres

# Shared fixtures live in tests/support/ (one definition each, not a copy per room).
pytest_plugins = ["tests.support.admin", "tests.support.ledger"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[LocalPostgres]:
    with local_postgres() as server:
        yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'sovra.db'}"
    server: LocalPostgres = request.getfixturevalue("postgres_server")
    return server.create_database()


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    """Settings for a fresh instance on the parametrized database."""
    return load_settings(data_dir=tmp_path / "data", database_url=db_url,
                         checkpoint_interval_s=0.0)


@pytest.fixture
def sqlite_settings(tmp_path: Path) -> Settings:
    """Settings for a fresh embedded (SQLite) instance only."""
    return load_settings(data_dir=tmp_path / "data", checkpoint_interval_s=0.0)


@pytest.fixture
def instance(settings: Settings) -> Iterator[Instance]:
    opened = open_instance(settings)
    try:
        yield opened
    finally:
        opened.close()
