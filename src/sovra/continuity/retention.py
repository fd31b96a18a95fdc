"""Retention: keep the newest backup of each of the last N days and M ISO weeks.

Pure: backup ids and times in, the ids to keep (with the rule that keeps each) out. The
classic grandfather-father-son rule: a backup kept as a day's newest may also be its
week's newest; anything no rule keeps is pruned. The newest backup is always kept, so
a misconfigured retention (0 and 0) can never prune the last copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime


@dataclass(frozen=True)
class Kept:
    backup_id: str
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class RetentionPlan:
    keep: tuple[Kept, ...]
    prune: tuple[str, ...]


def plan(backups: Sequence[tuple[str, float]], *, daily: int, weekly: int) -> RetentionPlan:
    """Which of ``backups`` (id, created_at epoch seconds) to keep and which to prune."""
    newest_first = sorted(backups, key=lambda b: (b[1], b[0]), reverse=True)
    reasons: dict[str, list[str]] = {b[0]: [] for b in newest_first}
    days: list[str] = []
    weeks: list[str] = []
    for backup_id, created in newest_first:
        when = datetime.fromtimestamp(created, UTC)
        day = when.strftime("%Y-%m-%d")
        iso = when.isocalendar()
        week = f"{iso.year}-W{iso.week:02d}"
        if day not in days:
            days.append(day)
            if len(days) <= daily:
                reasons[backup_id].append(f"daily {day}")
        if week not in weeks:
            weeks.append(week)
            if len(weeks) <= weekly:
                reasons[backup_id].append(f"weekly {week}")
    if newest_first:
        reasons[newest_first[0][0]].append("newest")
    keep = tuple(Kept(b, tuple(r)) for b, r in reasons.items() if r)
    prune = tuple(b for b, r in reasons.items() if not r)
    return RetentionPlan(keep, prune)
