"""`run_drill` on both profiles: SQLite into a scratch directory, PostgreSQL into a
scratch database from the test fixtures; RTO and RPO measured on each, and a check that
cannot run here is "not evidenced", never a success."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from sovra.continuity import list_backups, run_drill
from sovra.data.embed import Embedder
from sovra.errors import InvalidInputError
from sovra.store import make_engine
from sovra.store.local_postgres import LocalPostgres
from tests.continuity.conftest import Source, make_source


def _by_name(checks: tuple[object, ...]) -> dict[str, object]:
    return {c.name: c for c in checks}  # type: ignore[attr-defined]


def test_a_drill_with_no_one_to_chat_as_says_not_evidenced_and_still_passes(
        source: Source) -> None:
    """The fixture's instance has no administrator principal: the chat check cannot be
    run, so it is reported as not evidenced and left out of the verdict, not passed."""
    report = run_drill(source.instance, actor="test", shares=source.share_texts[:2])
    chat = _by_name(report.checks)["chat"]
    assert (chat.passed, chat.evidenced) == (False, False)  # type: ignore[attr-defined]
    assert chat.detail.startswith("not evidenced")  # type: ignore[attr-defined]
    assert report.passed and report.notes and "chat" in report.notes[0]
    last = bytes(source.instance.ledger.tail(1)[0].body)
    assert b'"continuity.drill"' in last and b'"not_evidenced":["chat"]' in last


@pytest.mark.postgres
def test_a_cluster_drill_restores_into_a_scratch_database_and_measures_rto_and_rpo(
        tmp_path: Path, embedder: Embedder, postgres_server: LocalPostgres) -> None:
    source = make_source(tmp_path / "data", embedder,
                         database_url=postgres_server.create_database())
    inst = source.instance
    try:
        inst.identity.create_principal("test", "ops", roles=("admin",), clearance="secret")
        with pytest.raises(InvalidInputError, match="--scratch-database-url"):
            run_drill(inst, actor="test", shares=source.share_texts[:2])
        assert list_backups(tmp_path / "data" / "backups") == []  # refused before
        scratch_db = postgres_server.create_database()
        report = run_drill(inst, actor="test", shares=source.share_texts[:2],
                           scratch_database_url=scratch_db)
        checks = _by_name(report.checks)
        assert report.passed, report.checks
        for name in ("restore", "ledger-consistency", "documents-decrypt", "retrieval",
                     "database-readable", "chat", "ledger-verify"):
            assert checks[name].passed, checks[name]  # type: ignore[attr-defined]
        assert report.rto_s >= 0 and report.rpo_s is not None
        engine = make_engine(scratch_db)
        try:
            with engine.connect() as conn:  # emptied again after the drill
                assert conn.execute(text(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
                    "'public'")).scalar_one() == 0
        finally:
            engine.dispose()
    finally:
        inst.close()
