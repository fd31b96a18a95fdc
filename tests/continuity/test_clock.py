"""The clock jumping backwards (issue 17, "Faults survived"): ledger times must stay
monotonic, and the jump is recorded as a ledger entry."""

from __future__ import annotations

import itertools

from sovra.config import Settings
from sovra.continuity.manifest import entry_time
from sovra.ledger import Ledger
from sovra.ledger.entry import decode
from sovra.store import make_engine, upgrade

NOW = 1_796_000_000.0


def test_ledger_times_stay_monotonic_or_the_jump_is_recorded(
        sqlite_settings: Settings) -> None:
    readings = [NOW, NOW + 1.0, NOW - 3600.0, NOW - 3599.0]  # one reading per append

    def clock() -> float:
        return readings.pop(0) if len(readings) > 1 else readings[0]

    sqlite_settings.data_dir.mkdir(parents=True)
    engine = make_engine(sqlite_settings.effective_database_url)
    upgrade(engine)
    ledger = Ledger.open(engine, sqlite_settings, clock=clock)
    try:
        for i in range(4):
            ledger.append("test", "test.event", f"thing/{i}", "success")
        bodies = [bytes(r.body) for r in ledger.tail(ledger.size)]
    finally:
        ledger.close()
        engine.dispose()
    times = [entry_time(b) for b in bodies]
    assert all(a is not None and b is not None and a <= b
               for a, b in itertools.pairwise(times)), times
    jumps = [decode(b) for b in bodies if decode(b).action == "clock.jump_backwards"]
    assert len(jumps) == 1, [decode(b).action for b in bodies]
    assert jumps[0].details["delta_s"] == -3601.0
    assert [decode(b).resource for b in bodies if decode(b).action == "test.event"] == [
        f"thing/{i}" for i in range(4)]
