"""Retention: newest per day for N days and per ISO week for M weeks; never the last copy."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from sovra.continuity.retention import plan

DAY = 86400.0


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_keeps_the_newest_of_each_day_and_week() -> None:
    backups = [("mon-1", _at("2026-11-30T01:00")), ("mon-2", _at("2026-11-30T13:00")),
               ("tue", _at("2026-12-01T01:00")), ("wed", _at("2026-12-02T01:00")),
               ("prev-week", _at("2026-11-25T01:00")), ("old", _at("2026-11-10T01:00"))]
    result = plan(backups, daily=2, weekly=2)
    kept = {k.backup_id: k.reasons for k in result.keep}
    assert set(kept) == {"wed", "tue", "prev-week"}
    assert "weekly 2026-W49" in kept["wed"] and "newest" in kept["wed"]
    assert set(result.prune) == {"mon-1", "mon-2", "old"}


def test_zero_retention_still_keeps_the_newest() -> None:
    result = plan([("a", 1.0), ("b", 2.0)], daily=0, weekly=0)
    assert [k.backup_id for k in result.keep] == ["b"] and result.prune == ("a",)


@given(st.lists(st.floats(min_value=0, max_value=4e9), min_size=1, max_size=40),
       st.integers(0, 10), st.integers(0, 10))
def test_every_backup_is_kept_or_pruned_once(times: list[float], daily: int,
                                             weekly: int) -> None:
    backups = [(f"b{i}", t) for i, t in enumerate(times)]
    result = plan(backups, daily=daily, weekly=weekly)
    kept = [k.backup_id for k in result.keep]
    assert sorted(kept + list(result.prune)) == sorted(b for b, _ in backups)
    assert len(kept) <= max(1, daily + weekly + 1)
    newest = max(backups, key=lambda b: (b[1], b[0]))[0]
    assert newest in kept
