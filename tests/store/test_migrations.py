from __future__ import annotations

from sovra.store import current_heads, make_engine, pending, upgrade


def test_upgrade_applies_every_branch_head_and_is_idempotent(db_url: str) -> None:
    engine = make_engine(db_url)
    assert pending(engine)
    heads = upgrade(engine)
    assert "ledger_0001" in heads
    assert pending(engine) == []
    assert upgrade(engine) == heads == current_heads(engine)
    engine.dispose()
