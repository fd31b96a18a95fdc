"""AI gateway CPU per chat request, in process: the ASGI app driven directly.

The HTTP benchmark (gateway_overhead.py) measures the whole server, but on a shared
2-core machine its throughput moves with the neighbours and with the disk's sync mode.
This one opens an instance (fresh data directory, SQLite with durable group commit),
registers the FakeUpstream model (its own process) and sends ``POST
/v1/chat/completions`` straight into ``create_app(instance)`` as ASGI messages from
``--clients`` concurrent tasks: every request is authenticated, authorised by Cedar,
governed, recorded (three durable ledger entries, two commits in sequence) and proxied,
exactly as through uvicorn, minus uvicorn. It reports CPU time per request of the
event-loop thread (``time.thread_time``) and of the whole process, in blocks, so a
block slowed by a neighbour shows as an outlier rather than moving the median.

Baseline, in the same run and process: the same number of chat requests sent straight
to the FakeUpstream with the gateway's own pooled client (``Http1Client``), at the same
concurrency: what proxying alone costs. The ratio is gateway / direct loop CPU.

    .venv/bin/python benchmarks/gateway_inprocess.py             # about 20 s
    .venv/bin/python benchmarks/gateway_inprocess.py --blocks 20 # more blocks
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import uvloop  # noqa: E402
from tests.ai.conftest import approved_upstream  # noqa: E402

from gateway_overhead import UNLIMITED_QUOTAS, fake_upstream  # noqa: E402
from sovra.ai.backends.http1 import Http1Client  # noqa: E402
from sovra.api import create_app  # noqa: E402
from sovra.config import load_settings  # noqa: E402
from sovra.identity import ensure_first_admin  # noqa: E402
from sovra.instance import open_instance  # noqa: E402
from sovra.keys import start_for_up  # noqa: E402

BODY = json.dumps({"model": "fake-instant", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "Ping?"}]}).encode()
App = Callable[[MutableMapping[str, Any], Any, Any], Awaitable[None]]


def chat_scope(key: str) -> dict[str, Any]:
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": "POST", "scheme": "http", "path": "/v1/chat/completions",
            "raw_path": b"/v1/chat/completions", "query_string": b"", "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), (b"content-type", b"application/json"),
                        (b"authorization", f"Bearer {key}".encode()),
                        (b"content-length", str(len(BODY)).encode())],
            "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000)}


async def one_request(app: App, key: str) -> None:
    sent = False
    status = 0

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": BODY, "more_body": False}
        await asyncio.sleep(3600)  # a client that stays: never reached for this route
        return {"type": "http.disconnect"}

    async def send(message: MutableMapping[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]

    await app({**chat_scope(key), "state": {}}, receive, send)
    if status != 200:
        raise RuntimeError(f"status {status}")


async def one_direct(client: Http1Client, upstream_body: bytes) -> None:
    response = await client.post("/v1/chat/completions", upstream_body)
    await response.read()
    if response.status != 200:
        raise RuntimeError(f"upstream status {response.status}")


async def cpu_block(call: Callable[[], Awaitable[None]], count: int, clients: int
                    ) -> tuple[float, float]:
    """Loop-thread and process CPU (µs) per call for ``count`` calls from ``clients``."""
    per = count // clients

    async def worker() -> None:
        for _ in range(per):
            await call()

    thread0, process0 = time.thread_time(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(clients)))
    n = per * clients
    return ((time.thread_time() - thread0) * 1e6 / n,
            (time.process_time() - process0) * 1e6 / n)


async def measure(app: App, key: str, port: int, args: argparse.Namespace
                  ) -> dict[str, object]:
    client = Http1Client(f"http://127.0.0.1:{port}")
    upstream_body = json.dumps({"model": "fake-instant", "stream": False, "max_tokens": 16,
                                "messages": [{"role": "user", "content": "Ping?"}]},
                               separators=(",", ":")).encode()
    gateway: list[tuple[float, float]] = []
    direct: list[tuple[float, float]] = []
    for _ in range(2):  # warm up both (pools, caches, the memoised decision)
        await cpu_block(lambda: one_request(app, key), args.block, args.clients)
        await cpu_block(lambda: one_direct(client, upstream_body), args.block, args.clients)
    for _ in range(args.blocks):
        gateway.append(await cpu_block(lambda: one_request(app, key), args.block,
                                       args.clients))
        direct.append(await cpu_block(lambda: one_direct(client, upstream_body),
                                      args.block, args.clients))
    await client.aclose()

    def summary(rows: list[tuple[float, float]], i: int) -> dict[str, float]:
        values = sorted(r[i] for r in rows)
        return {"median_us": round(statistics.median(values), 1),
                "lower_quartile_us": round(values[len(values) // 4], 1),
                "min_us": round(values[0], 1)}

    loop_g, loop_d = summary(gateway, 0), summary(direct, 0)
    return {"clients": args.clients, "requests_per_block": args.block, "blocks": args.blocks,
            "gateway_loop_cpu_per_request": loop_g,
            "gateway_process_cpu_per_request": summary(gateway, 1),
            "direct_loop_cpu_per_request": loop_d,
            "direct_process_cpu_per_request": summary(direct, 1),
            "loop_cpu_ratio_to_direct": round(loop_g["median_us"] / loop_d["median_us"], 2),
            "load_average_1_5_15": list(os.getloadavg())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--block", type=int, default=500, help="requests per block")
    parser.add_argument("--blocks", type=int, default=8)
    args = parser.parse_args()
    os.environ.update(UNLIMITED_QUOTAS)
    with fake_upstream() as port:
        with tempfile.TemporaryDirectory() as tmp:
            instance = open_instance(load_settings(data_dir=Path(tmp) / "data"))
            try:
                start_for_up(instance.keys)
                key = ensure_first_admin(instance)
                assert key is not None
                approved_upstream(instance, port)
                app = create_app(instance)

                async def run() -> dict[str, object]:
                    try:
                        return await measure(app, key, port, args)
                    finally:
                        await instance.ai.aclose()

                result = uvloop.run(run())
            finally:
                instance.close()
        print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
