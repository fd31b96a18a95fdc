"""Ledger fixtures: a ledger on a real database (SQLite and PostgreSQL, via ``settings``)
and a raw engine for tampering with storage the way an administrator could."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor

import pytest
from sqlalchemy import Engine, text

from sovra.config import Settings
from sovra.ledger import Ledger
from sovra.store import make_engine, upgrade

OpenLedger = Callable[[], Ledger]


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    made = make_engine(settings.effective_database_url)
    upgrade(made)
    yield made
    made.dispose()


@pytest.fixture
def open_ledger(engine: Engine, settings: Settings) -> Iterator[OpenLedger]:
    """Opens ledgers on the test database (again after a close); closes them all."""
    opened: list[Ledger] = []

    def make() -> Ledger:
        ledger = Ledger.open(engine, settings)
        opened.append(ledger)
        return ledger

    yield make
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger: OpenLedger) -> Ledger:
    return open_ledger()


def fill(ledger: Ledger, count: int, *, checkpoint_every: int = 0) -> None:
    """Append ``count`` events, signing a checkpoint every ``checkpoint_every``."""
    for i in range(count):
        ledger.append(f"user:u{i % 7}", "data.ingest", f"collection:c{i % 3}", "success",
                      {"i": i, "note": "x" * (i % 50)})
        if checkpoint_every and (i + 1) % checkpoint_every == 0:
            ledger.sign_checkpoint()


def deny_ledger_inserts(engine: Engine) -> None:
    """Make the database refuse every new ledger row, as a full disk would."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.execute(text("CREATE TRIGGER deny_ledger BEFORE INSERT ON ledger_entries "
                              "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
        else:
            conn.execute(text("CREATE FUNCTION deny_ledger() RETURNS trigger AS $$ BEGIN "
                              "RAISE EXCEPTION 'disk full'; END $$ LANGUAGE plpgsql"))
            conn.execute(text("CREATE TRIGGER deny_ledger BEFORE INSERT ON ledger_entries "
                              "FOR EACH ROW EXECUTE FUNCTION deny_ledger()"))


def allow_ledger_inserts(engine: Engine) -> None:
    """Undo ``deny_ledger_inserts``."""
    with engine.begin() as conn:
        conn.execute(text("DROP TRIGGER deny_ledger" if engine.dialect.name == "sqlite"
                          else "DROP TRIGGER deny_ledger ON ledger_entries"))


@pytest.fixture(scope="module")
def forkable() -> Iterator[ProcessPoolExecutor]:
    """One spawned interpreter for the parallel-verification tests.

    The verifier forks workers only from a single-threaded process (forking a process
    with other threads can copy a held lock); pytest's own process has threads left by
    other tests (database pools, servers), so these tests run their body in a fresh
    spawned process, where forking is allowed, instead of being skipped or quietly
    comparing one process with one process. They assert how many processes ran.
    """
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")
                             ) as pool:
        yield pool
