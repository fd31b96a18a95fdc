"""The request index writes on a connection of its own that does not wait for the disk
(ADR 0606); every other connection, the ledger's above all, keeps syncing its commits."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text

from sovra.ai.request_index import IndexRow, RequestIndex, row_values
from sovra.instance import Instance


def _sync_setting(conn: object) -> str:
    dialect = conn.dialect.name  # type: ignore[attr-defined]
    sql = "PRAGMA synchronous" if dialect == "sqlite" else "SHOW synchronous_commit"
    return str(conn.exec_driver_sql(sql).scalar())  # type: ignore[attr-defined]


def test_rows_are_written_and_found(instance: Instance) -> None:
    index = RequestIndex(instance.engine)
    rows = [IndexRow(f"chatcmpl-{i}", 10 + i, 20 + i, "alice", "m", 1.0 + i,
                     b"p" if i else None) for i in range(3)]

    async def go() -> None:
        for row in rows:
            index.add(row)
        await index.aclose()

    asyncio.run(go())
    assert [index.get(r.request_id) for r in rows] == rows
    assert index.get("chatcmpl-none") is None
    index.close()


def test_only_the_index_connection_skips_the_sync(instance: Instance) -> None:
    engine = instance.engine
    index = RequestIndex(engine)

    async def go() -> None:
        index.add(IndexRow("chatcmpl-x", 1, 2, "alice", "m", 1.0))
        await index.flush()

    asyncio.run(go())
    writer = index._writer
    assert writer is not None
    relaxed = _sync_setting(writer)
    # Every pooled connection (the ones the ledger and everyone else commit on).
    pooled = [engine.connect() for _ in range(3)]
    try:
        settings = {_sync_setting(c) for c in pooled}
    finally:
        for conn in pooled:
            conn.close()
    if engine.dialect.name == "sqlite":
        assert relaxed == "1"  # NORMAL
        assert settings == {"2"}  # FULL
    else:
        assert relaxed == "off"
        assert settings == {"on"}
    index.close()
    assert index._writer is None
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ai_requests")).scalar() == 1


@given(row=st.builds(IndexRow, st.text(max_size=20), st.none() | st.integers(0, 2**62),
                     st.none() | st.integers(0, 2**62), st.text(max_size=10),
                     st.text(max_size=10), st.floats(allow_nan=False),
                     st.none() | st.binary(max_size=20), st.none() | st.binary(max_size=20)))
def test_row_values_are_what_asdict_gives(row: IndexRow) -> None:
    """The written values, taken without ``asdict``'s deep copy: same keys in the same
    order, the same values."""
    values = row_values(row)
    assert list(values.items()) == list(asdict(row).items())
