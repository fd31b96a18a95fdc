"""What checking lockbox grants adds to a policy decision (issue 16: at most 20 µs at p99).

One real embedded instance (SQLite), its PolicyService.decide timed, interleaved in
blocks so every line sees the same machine load:
  * no_lockbox: the decision with no grant source installed (the baseline);
  * lockbox_no_grant: the same decisions with the lockbox installed, for principals that
    hold no grant (the common case: the answer comes from memory);
  * lockbox_grant_held: an operator deciding under a live grant; the grant is re-read
    from the database before use (so a revocation anywhere counts at once).
Callers: an analyst (allowed by standing policy) and an operator (denied without a grant)
alternate in the first two lines. Each call is timed in wall time and in thread CPU time
(which leaves out time the scheduler gave other processes on a loaded machine). Prints
JSON: percentiles in µs and the p99 differences to the baseline.
Run: .venv/bin/python benchmarks/lockbox_decision.py [--iterations 20000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from array import array
from collections.abc import Callable
from pathlib import Path

from sovra.config import load_settings
from sovra.identity import Caller
from sovra.instance import open_instance
from sovra.lockbox import RequestSpec, Scope
from sovra.policy import Resource

BLOCK = 500
ANALYST = Caller("ana", "user", frozenset({"analyst"}), "secret", jurisdiction="EU")
OPERATOR = Caller("otto", "user", frozenset({"operator"}), "secret", jurisdiction="EU")
HOLDER = Caller("hal", "user", frozenset({"operator"}), "secret", jurisdiction="EU")
APPROVERS = [Caller(n, "user", frozenset({"approver"}), "secret", jurisdiction="EU")
             for n in ("ann", "abe")]
KEYS = Resource("Keys", "*")
COLLECTION = Resource("Collection", "c-1")


def percentiles(samples: array[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6  # noqa: E731
    return {"p50_us": round(pick(0.50), 2), "p90_us": round(pick(0.90), 2),
            "p99_us": round(pick(0.99), 2), "mean_us": round(statistics.fmean(ordered) * 1e6, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        inst = open_instance(load_settings(data_dir=Path(tmp) / "data",
                                           checkpoint_interval_s=0.0))
        try:
            box = inst.lockbox
            spec = RequestSpec(scope=Scope.parse("instance"), actions=("keys.status",),
                               reason="benchmark", duration_s=8 * 3600)
            grant = box.request(HOLDER, spec)
            for approver in APPROVERS:
                box.approve(approver, grant.id)
            policy = inst.policy
            assert policy.decide(HOLDER, "keys.status", KEYS).grant_id == grant.id

            def plain() -> None:
                policy.decide(ANALYST, "collections.read", COLLECTION)
                policy.decide(OPERATOR, "keys.status", KEYS)

            def held() -> None:
                policy.decide(HOLDER, "keys.status", KEYS)
                policy.decide(HOLDER, "keys.status", KEYS)

            lines: dict[str, tuple[Callable[[], None], bool]] = {
                "no_lockbox": (plain, False), "lockbox_no_grant": (plain, True),
                "lockbox_grant_held": (held, True)}
            samples = {name: array("d", bytes(8 * args.iterations)) for name in lines}
            cpu = {name: array("d", bytes(8 * args.iterations)) for name in lines}
            filled = dict.fromkeys(lines, 0)
            for fn, _ in lines.values():  # warm up
                for _ in range(200):
                    fn()
            load_before = os.getloadavg()
            clock, cpu_clock = time.perf_counter, time.thread_time
            while min(filled.values()) < args.iterations:
                for name, (fn, installed) in lines.items():
                    policy.use_grants(box if installed else None)
                    out, out_cpu, start = samples[name], cpu[name], filled[name]
                    for i in range(start, min(args.iterations, start + BLOCK)):
                        c0, t0 = cpu_clock(), clock()
                        fn()
                        out[i] = (clock() - t0) / 2  # two decisions per call
                        out_cpu[i] = (cpu_clock() - c0) / 2
                    filled[name] = min(args.iterations, start + BLOCK)
            policy.use_grants(box)
            result = {name: percentiles(s) for name, s in samples.items()}
            result_cpu = {name: percentiles(s) for name, s in cpu.items()}
            base = result["no_lockbox"]["p99_us"]
            base_cpu = result_cpu["no_lockbox"]["p99_us"]
            print(json.dumps({
                "benchmark": "lockbox_decision", "iterations": args.iterations,
                "python": platform.python_version(), "machine": platform.machine(),
                "cpus": os.cpu_count(), "load_before": load_before,
                "load_after": os.getloadavg(), "lines": result, "lines_cpu_time": result_cpu,
                "p99_added_us": {
                    "no_grant": round(result["lockbox_no_grant"]["p99_us"] - base, 2),
                    "grant_held": round(result["lockbox_grant_held"]["p99_us"] - base, 2)},
                "p99_added_cpu_us": {
                    "no_grant": round(result_cpu["lockbox_no_grant"]["p99_us"] - base_cpu, 2),
                    "grant_held": round(result_cpu["lockbox_grant_held"]["p99_us"] - base_cpu,
                                        2)},
            }, indent=2))
        finally:
            inst.close()


if __name__ == "__main__":
    main()
