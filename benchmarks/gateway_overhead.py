"""AI gateway overhead against an instant fake upstream, side by side with calling it directly.

Starts a FakeUpstream (raw asyncio + uvloop, its own process) and a real ``sovra up``
(its own process, fresh data directory, SQLite with durable group commit). The model
``fake-instant`` is registered and approved, so every gateway request is authenticated
(API key), authorised by Cedar (decision recorded in the ledger), governed (prompt
classified), recorded before and after the upstream call (two more ledger entries) and
proxied over a pooled connection.

The load generator is a lean HTTP/1.1 keep-alive client on raw asyncio (uvloop), so the
client costs as little CPU as possible on this 2-core machine: the same client measures
the direct baseline in the same run.

Measures (issue 7, Performance):
* 1 client: latency p50/p99 direct and through Sovra; added = difference;
* 50 concurrent clients: requests/s through Sovra (and direct), errors;
* both: the server process's CPU time per request (all threads), which other tenants
  of a shared machine disturb less than latency;
* 500 concurrent clients: how many are shed (429/503), how fast, and recovery after;
* the disk's fsync latency where the database lives, before and after the phases: two
  durable commits in sequence per request make twice its median the latency floor;
* the machine's load averages before and after (a shared machine's other tenants).

    .venv/bin/python benchmarks/gateway_overhead.py            # short (about 1 minute)
    .venv/bin/python benchmarks/gateway_overhead.py --long     # longer phases
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.server import approve_upstream_models, sovra_up  # noqa: E402

BODY = json.dumps({"model": "fake-instant", "max_tokens": 16,
                   "messages": [{"role": "user", "content": "Ping?"}]}).encode()


def request_bytes(path: str, key: str | None) -> bytes:
    auth = f"authorization: Bearer {key}\r\n" if key else ""
    return (f"POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n"
            f"{auth}content-length: {len(BODY)}\r\n\r\n").encode() + BODY


class Connection:
    """One keep-alive HTTP/1.1 connection sending a fixed request."""

    def __init__(self, port: int, payload: bytes) -> None:
        self.port = port
        self.payload = payload
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def call(self) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(self.payload)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        chunked = False
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            lname = name.strip().lower()
            if lname == b"content-length":
                length = int(value.strip())
            elif lname == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        if chunked:
            while True:
                size = int((await self.reader.readuntil(b"\r\n")).strip(), 16)
                await self.reader.readexactly(size + 2)
                if size == 0:
                    break
        elif length:
            await self.reader.readexactly(length)
        if b"connection: close" in head.lower():
            self.close()
        return status

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.writer = None
        self.reader = None


async def latency(port: int, payload: bytes, count: int) -> list[float]:
    conn = Connection(port, payload)
    for _ in range(min(200, count)):  # warm up
        await conn.call()
    out = []
    for _ in range(count):
        start = time.perf_counter()
        status = await conn.call()
        out.append((time.perf_counter() - start) * 1000)
        if status != 200:
            raise RuntimeError(f"status {status}")
    conn.close()
    return out


async def load(port: int, payload: bytes, clients: int, seconds: float) -> dict[str, object]:
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        conn = Connection(port, payload)
        while time.perf_counter() < stop:
            start = time.perf_counter()
            try:
                status = await conn.call()
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                conn.close()
                await asyncio.sleep(0.01)
                continue
            latencies.append((time.perf_counter() - start) * 1000)
            statuses[status] = statuses.get(status, 0) + 1
            if status in (429, 503):
                await asyncio.sleep(0.05)  # a polite client honours the hint, briefly
        conn.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(clients)))
    elapsed = time.perf_counter() - began
    ok = statuses.get(200, 0)
    return {"clients": clients, "seconds": round(elapsed, 2), "ok": ok,
            "rps_ok": round(ok / elapsed, 1), "statuses": statuses, "errors": errors,
            "p50_ms": round(pct(latencies, 50), 2), "p99_ms": round(pct(latencies, 99), 2)}


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q / 100))]


def fsync_latency(directory: Path, count: int = 200) -> dict[str, float]:
    """This disk's sync latency where the server's database lives: overwrite 4 KiB of a
    preallocated file and ``fdatasync`` it, as SQLite's WAL commit does. A chat request
    waits for two durable commits in sequence (before the model is called, and before
    the answer is released), so twice the median is the floor of its added latency."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(4096 * count))
        os.fsync(fd)
        times = []
        for i in range(count):
            os.pwrite(fd, os.urandom(4096), 4096 * i)
            start = time.perf_counter()
            os.fdatasync(fd)
            times.append((time.perf_counter() - start) * 1000)
    finally:
        os.close(fd)
        path.unlink()
    return {"p50_ms": round(pct(times, 50), 3), "p99_ms": round(pct(times, 99), 3),
            "two_commits_p50_ms": round(2 * pct(times, 50), 3)}


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(upstream_port: int, gateway_port: int, key: str, long: bool,
              server_pid: int) -> dict[str, object]:
    direct = request_bytes("/v1/chat/completions", None)
    through = request_bytes("/v1/chat/completions", key)
    n = 3000 if long else 1000
    seconds = 15.0 if long else 5.0
    d_lat = await latency(upstream_port, direct, n)
    cpu = cpu_seconds(server_pid)
    g_lat = await latency(gateway_port, through, n)
    one_cpu = (cpu_seconds(server_pid) - cpu) * 1000 / (n + min(200, n))
    one = {"direct_p50_ms": round(pct(d_lat, 50), 3), "direct_p99_ms": round(pct(d_lat, 99), 3),
           "sovra_p50_ms": round(pct(g_lat, 50), 3), "sovra_p99_ms": round(pct(g_lat, 99), 3),
           "added_p50_ms": round(pct(g_lat, 50) - pct(d_lat, 50), 3),
           "added_p99_ms": round(pct(g_lat, 99) - pct(d_lat, 99), 3),
           "mean_ratio": round(statistics.mean(g_lat) / statistics.mean(d_lat), 2),
           # Less sensitive than latency to the other tenants of a shared VM's disk.
           "server_cpu_ms_per_request": round(one_cpu, 3)}
    d50 = await load(upstream_port, direct, 50, seconds)
    cpu = cpu_seconds(server_pid)
    g50 = await load(gateway_port, through, 50, seconds)
    g50["server_cpu_ms_per_request"] = round(
        (cpu_seconds(server_pid) - cpu) * 1000 / max(1, int(str(g50["ok"]))), 3)
    over = await load(gateway_port, through, 500, seconds)
    await asyncio.sleep(1.0)
    recovery = await load(gateway_port, through, 1, 2.0)
    return {"one_client": one, "c50_direct": d50, "c50_sovra": g50,
            "c50_ratio_to_direct": round(float(g50["rps_ok"]) / float(d50["rps_ok"]), 3),
            "c500_overload_sovra": over, "recovery_1_client": recovery}


# The benchmarks measure the gateway's work, not quotas: one principal sends every request.
UNLIMITED_QUOTAS = {"SOVRA_AI_REQUESTS_PER_MINUTE": "100000000",
                    "SOVRA_AI_TOKENS_PER_MINUTE": "100000000000",
                    "SOVRA_AI_CONCURRENT_PER_PRINCIPAL": "1000"}


@contextlib.contextmanager
def fake_upstream() -> Iterator[int]:
    """Start tests/e2e/fake_upstream.py on loopback; yield its port, stop it after."""
    fake = subprocess.Popen([sys.executable, str(ROOT / "tests/e2e/fake_upstream.py")],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert fake.stdout is not None
        yield int(fake.stdout.readline().split()[1])
    finally:
        fake.terminate()
        fake.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long", action="store_true", help="longer phases")
    args = parser.parse_args()
    with fake_upstream() as upstream_port, tempfile.TemporaryDirectory() as tmp, \
            sovra_up(Path(tmp) / "data", extra_env=UNLIMITED_QUOTAS) as server:
        approve_upstream_models(server, upstream_port, ("fake-instant",))
        try:
            import uvloop
            runner = uvloop.run
        except ImportError:
            runner = asyncio.run
        port = int(server.url.rsplit(":", 1)[1])
        load_before = os.getloadavg()
        fsync_before = fsync_latency(Path(tmp))
        result = runner(run(upstream_port, port, server.admin_key, args.long,
                            server.process.pid))
        result["disk_fsync_before"] = fsync_before
        result["disk_fsync_after"] = fsync_latency(Path(tmp))
        result["load_average_1_5_15"] = {"before": load_before,
                                         "after": os.getloadavg()}
    result["machine"] = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
