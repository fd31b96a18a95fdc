from __future__ import annotations

import sqlalchemy as sa

from sovra.store import current_heads, make_engine, pending, upgrade


def test_upgrade_applies_every_branch_head_and_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    assert pending(engine)
    heads = upgrade(engine)
    assert "ledger_0002" in heads
    assert pending(engine) == []
    assert upgrade(engine) == heads == current_heads(engine)
    engine.dispose()


def test_ledger_entries_carry_no_secondary_index(db_url: str) -> None:
    """Each index on the ledger's entries is one more page per group commit; none is read
    (migration ledger_0002)."""
    engine = make_engine(db_url)
    upgrade(engine)
    assert sa.inspect(engine).get_indexes("ledger_entries") == []
    engine.dispose()
