"""One async caller appending one entry at a time: what the AI gateway waits for per commit.

With one client, a chat request waits for two durable ledger commits in sequence, each
a batch of one or two entries committed by the writer thread while the event loop
waits (ADR 0603, 0605, 0106). This benchmark opens a fresh instance (SQLite,
``synchronous=FULL``) and awaits ``Ledger.append_async`` ``--appends`` times from one
uvloop task, one after another. It reports the latency percentiles and the CPU time per
append, for the event-loop thread and for the whole process (the writer included).

The baseline, in the same run, is the least any such design can do. One thread inserts
one row of the same shape into a bare SQLite table (WAL, ``synchronous=FULL``) and
commits it; the event loop awaits each insert through ``run_in_executor``. The ratio is
ledger / baseline.

    .venv/bin/python benchmarks/ledger_one_async_caller.py [--appends 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import json
import os
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import uvloop

from sovra.config import load_settings
from sovra.instance import open_instance
from sovra.keys import start_for_up

DETAILS = {"request_id": "chatcmpl-0123456789ab", "request_seq": 12, "answer_sha256": "0" * 64,
           "reason": "stop", "prompt_tokens": 3, "completion_tokens": 5, "latency_us": 1234}


async def timed(call: Callable[[int], Awaitable[object]], count: int) -> dict[str, float]:
    for i in range(min(300, count)):  # warm up
        await call(i)
    latencies = []
    loop0, process0 = time.thread_time(), time.process_time()
    for i in range(300, 300 + count):
        start = time.perf_counter()
        await call(i)
        latencies.append(time.perf_counter() - start)
    loop_cpu, process_cpu = time.thread_time() - loop0, time.process_time() - process0
    latencies.sort()
    return {"p50_us": round(latencies[count // 2] * 1e6, 1),
            "p99_us": round(latencies[min(count - 1, count * 99 // 100)] * 1e6, 1),
            "loop_cpu_us_per_append": round(loop_cpu / count * 1e6, 1),
            "process_cpu_us_per_append": round(process_cpu / count * 1e6, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=3000)
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        instance = open_instance(load_settings(data_dir=Path(tmp) / "data"))
        try:
            start_for_up(instance.keys)
            ledger = instance.ledger

            async def append(_i: int) -> object:
                return await ledger.append_async("user:alice", "ai.chat.outcome",
                                                 "model/fake-instant", "success", DETAILS)

            sovra = uvloop.run(timed(append, args.appends))
        finally:
            instance.close()

        connection = sqlite3.connect(Path(tmp) / "bare.db", check_same_thread=False,
                                     isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA synchronous=FULL")
        connection.execute("CREATE TABLE entries (seq INTEGER PRIMARY KEY, leaf_hash BLOB, "
                           "body BLOB, action TEXT, actor TEXT, resource TEXT)")
        body = json.dumps(DETAILS).encode() + bytes(120)
        executor = concurrent.futures.ThreadPoolExecutor(1)

        def insert(seq: int) -> None:
            connection.execute("INSERT INTO entries VALUES (?, ?, ?, ?, ?, ?)",
                               (seq, bytes(32), body, "ai.chat.outcome", "user:alice",
                                "model/fake-instant"))

        async def bare(i: int) -> object:
            return await asyncio.get_running_loop().run_in_executor(executor, insert, i)

        baseline = uvloop.run(timed(bare, args.appends))
        executor.shutdown()
        connection.close()
    print(json.dumps({
        "benchmark": "ledger_one_async_caller", "appends": args.appends,
        "python": sys.version.split()[0], "load_average_before": [round(x, 2) for x in load_before],
        "ledger_append_async": sovra, "baseline_bare_sqlite_commit": baseline,
        "p50_ratio_to_baseline": round(sovra["p50_us"] / baseline["p50_us"], 2),
        "process_cpu_ratio_to_baseline": round(
            sovra["process_cpu_us_per_append"] / baseline["process_cpu_us_per_append"], 2),
        "load_average_after": [round(x, 2) for x in os.getloadavg()]}, indent=2))


if __name__ == "__main__":
    main()
