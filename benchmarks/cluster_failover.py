"""Failover time: PostgreSQL primary killed to the first successful request (issue 22).

One real ``sovra up`` on a pg_auto_failover pair (a monitor, a primary, a synchronous
standby; ``tests.cluster.pg_ha`` with its ``MONITOR_SETTINGS``), four clients creating
principals; the primary's keeper and server are SIGKILLed together once 20 writes are
acknowledged. Reported per run: ``failover_s`` (the kill to the first 201 of a request
sent after it), the requests refused meanwhile (all 503), and whether every
acknowledged write is on the promoted standby. No baseline to divide by: the figure is
an interval of the failover itself, dominated by the monitor's detection settings.

    .venv/bin/python benchmarks/cluster_failover.py [--runs 1]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.cluster.failover import failover_under_load
from tests.cluster.pg_ha import MONITOR_SETTINGS

from sovra.store.engine import make_engine


def _one_run() -> dict[str, object]:
    with tempfile.TemporaryDirectory(prefix="sovra-failover-") as tmp, \
            failover_under_load(Path(tmp) / "data") as (_pair, url, _server, outcome):
        engine = make_engine(url)
        try:
            with engine.connect() as conn:
                stored = set(conn.execute(text(
                    "SELECT principal_id FROM identity_principals")).scalars())
        finally:
            engine.dispose()
    return {"failover_s": outcome.failover_s,
            "refused_during_failover": len(outcome.refused),
            "refused_statuses": sorted({status for status, _ in outcome.refused}),
            "transport_errors": len(outcome.transport_errors),
            "acknowledged": len(outcome.acked),
            "acknowledged_all_present": set(outcome.acked) <= stored}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    runs = [_one_run() for _ in range(args.runs)]
    times = [float(str(r["failover_s"])) for r in runs if r["failover_s"] is not None]
    print(json.dumps({"monitor_settings_ms": MONITOR_SETTINGS, "runs": runs,
                      "failover_s_median": statistics.median(times) if times else None},
                     indent=2))


if __name__ == "__main__":
    main()
