"""Governed SQL against the same query on an unguarded DuckDB connection, same run.

A 5,000,000-row table (dept, region, amount, an e-mail column at internal and an IBAN
column at confidential, rows at levels 0-2) is built inside DuckDB twice: once in a
plain in-memory connection (the baseline), once in a connection locked down as
``sovra.analytics`` locks it, with the hidden row-level column. The governed side runs
everything a query costs after the tables are loaded: the sqlglot allowlist, the
rewrite (row filter, masks for an internal-clearance caller) and the locked execution;
loading documents (decrypting, parsing, classifying) is not part of it. Runs alternate
(baseline, governed, ...) and the medians are compared; the issue's target is a ratio
of at most 1.5 for the governed aggregate.

    .venv/bin/python benchmarks/analytics_governed.py [--rows 5000000] [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sovra.analytics.governance import ColumnRule, Mask, rewrite
from sovra.analytics.locked import locked_connection, run_query
from sovra.analytics.sqlcheck import TableRef, check_sql

_GENERATE = """
CREATE TABLE hr.sales AS SELECT
  'dept-' || (i % 17) AS dept, 'region-' || (i % 5) AS region,
  (i * 7919) % 100000 / 100.0 AS amount,
  'user' || i || '@example.com' AS email, 'DE' || lpad(CAST(i AS VARCHAR), 20, '0') AS iban
  {level} FROM range({rows}) t(i)
"""
QUERIES = {
    "aggregate": ("SELECT dept, count(*) AS n, sum(amount) AS total, avg(amount) AS mean "
                  "FROM hr.sales GROUP BY dept ORDER BY dept"),
    "masked_distinct": "SELECT region, count(DISTINCT iban) FROM hr.sales GROUP BY region",
}
RULES = {TableRef("hr", "sales"): [
    ColumnRule("dept", Mask.NONE, "allowed"), ColumnRule("region", Mask.NONE, "allowed"),
    ColumnRule("amount", Mask.NONE, "allowed"), ColumnRule("email", Mask.NONE, "allowed"),
    ColumnRule("iban", Mask.HASH, "clearance-at-least-classification")]}


def build(connection: duckdb.DuckDBPyConnection, rows: int, *, governed: bool) -> None:
    connection.execute("CREATE SCHEMA hr")
    level = ", CAST(i % 3 AS INTEGER) AS _sovra_level" if governed else ""
    connection.execute(_GENERATE.format(rows=rows, level=level))


def governed_run(connection: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    checked = check_sql(sql)
    run_query(connection, rewrite(checked, RULES, 1, "00" * 16), 100_000)
    return time.perf_counter() - start


def plain_run(connection: duckdb.DuckDBPyConnection, sql: str) -> float:
    start = time.perf_counter()
    connection.execute(sql).fetchall()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    plain = duckdb.connect(":memory:", config={"threads": args.threads})
    build(plain, args.rows, governed=False)
    locked = locked_connection(threads=args.threads)
    build(locked, args.rows, governed=True)
    out: dict[str, object] = {"rows": args.rows, "runs": args.runs, "threads": args.threads,
                              "duckdb": duckdb.__version__}
    for name, sql in QUERIES.items():
        plain_run(plain, sql)
        governed_run(locked, sql)  # warm both
        base, gov = [], []
        for _ in range(args.runs):
            base.append(plain_run(plain, sql))
            gov.append(governed_run(locked, sql))
        b, g = statistics.median(base), statistics.median(gov)
        out[name] = {"unguarded_ms": round(b * 1000, 1), "governed_ms": round(g * 1000, 1),
                     "ratio": round(g / b, 3)}
    aggregate = out["aggregate"]
    assert isinstance(aggregate, dict)
    out["target_ratio_max"] = 1.5
    out["target_met"] = aggregate["ratio"] <= 1.5
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
