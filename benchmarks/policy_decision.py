"""Authorization decision latency with 100 active policies (issue 4: p99 < 200 µs).

Measures, in one run, interleaved in blocks so that every line sees the same machine
load (the baseline is measured in the same blocks as the decisions):
  * baseline: an empty FastAPI request handler, called in-process through ASGI;
  * decide_distinct: ``CompiledPolicies.decide`` (what ``authorized`` and
    ``policy.require`` call) over a realistic population: 40 callers with different roles,
    clearances, units and jurisdictions, each request about a document never asked
    about before (so the per-request entity set is parsed every time; only each
    caller's own entity is reused), a mix of allows and denies. The headline figure;
  * decide_repeated: one caller asking about one document again and again (the whole
    request entity set is reused);
  * decide_new_caller: every request from a caller value never seen before (nothing
    cached: a first request, or the first after a role or attribute change), in its own
    round with its own baseline block (ADR 0305);
  * *_cpu_time: decide_distinct and the baseline timed in thread CPU time, which leaves
    out time the scheduler gave to other processes (a loaded shared machine);
  * decide_unsliced: decide_distinct's requests without policy slicing (all 100
    policies evaluated);
  * cedar_full_set_prebuilt: cedarpy.is_authorized on the whole set with a prebuilt
    request and entities handle: what a caller of cedarpy gets without slicing.

Every line reports ``page_faults_per_1000``: the minor page faults its calls took (on a
VM each costs microseconds, ADR 0305). Samples go into preallocated arrays, so the
harness itself faults in no pages while it times.

Garbage collections that ran during the decide_distinct samples are counted and timed
(``gc.callbacks``), so a reader can see whether collector pauses drive the tail.
``--gc-off`` repeats decide_distinct with the collector frozen and disabled: a
diagnostic of how much of the tail the collector explains, never the reported figure.

Prints JSON with p50/p90/p95/p99 in microseconds, the load average before and after,
and ratios to the baseline.
Run: .venv/bin/python benchmarks/policy_decision.py [--iterations 20000] [--gc-off]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import itertools
import json
import os
import platform
import random
import resource
import statistics
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cedarpy
from fastapi import FastAPI

from sovra.identity import Caller
from sovra.policy import CompiledPolicies, Resource, default_policy_text

ORG_UNITS = [f"ou-{n}" for n in range(30)]
BLOCK = 500  # samples per line per round of the interleaved measurement


def hundred_policies() -> str:
    """The default pack plus per-collection and per-model rules, 100 policies in all."""
    text = default_policy_text()
    count = len(CompiledPolicies(text))
    rules = []
    n = 0
    while count + len(rules) < 100:
        ou = ORG_UNITS[n % len(ORG_UNITS)]
        if n % 3 == 2:
            rules.append(f'@id("model-{n}")\npermit(principal in Role::"analyst", '
                         f'action == Action::"models.use", resource == Model::"m-{n}") '
                         f'when {{ principal.jurisdiction == "DE" }};')
        else:
            rules.append(f'@id("collection-{n}")\npermit(principal in Role::"analyst", '
                         f'action in [Action::"collections.read", Action::"documents.read"], '
                         f'resource in Collection::"c-{n}") '
                         f'when {{ principal.org_unit == "{ou}" }};')
        n += 1
    return text + "\n" + "\n".join(rules) + "\n"


def percentiles(samples: Sequence[float] | array[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def rank(q: float) -> float:  # nearest rank
        return round(ordered[max(0, int(len(ordered) * q) - 1)] * 1e6, 2)

    return {"p50_us": round(statistics.median(ordered) * 1e6, 2), "p90_us": rank(0.90),
            "p95_us": rank(0.95), "p99_us": rank(0.99)}


def measure(fn: Callable[[], object], iterations: int, *,
            cpu: bool = False) -> dict[str, float]:
    """Latency percentiles; ``cpu=True`` times this thread's CPU time instead, which
    leaves out time the scheduler gave to other processes (a loaded shared machine)."""
    for _ in range(min(1000, iterations)):
        fn()
    samples = array("d", bytes(8 * iterations))  # preallocated: see Line.reserve
    clock = time.thread_time if cpu else time.perf_counter
    for i in range(iterations):
        start = clock()
        fn()
        samples[i] = clock() - start
    return percentiles(samples)


def empty_handler_call() -> Callable[[], object]:
    """One in-process ASGI request to an empty FastAPI route (no network, no auth)."""
    app = FastAPI()

    @app.get("/empty")
    def empty() -> dict[str, str]:
        return {}

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
             "method": "GET", "scheme": "http", "path": "/empty", "raw_path": b"/empty",
             "root_path": "", "query_string": b"", "headers": [], "client": ("127.0.0.1", 1),
             "server": ("127.0.0.1", 8470), "state": {}}
    loop = asyncio.new_event_loop()

    async def receive() -> dict[str, object]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: dict[str, object]) -> None:
        return None

    def call() -> object:
        return loop.run_until_complete(app(scope, receive, send))

    return call


# -- the request population -------------------------------------------------------------

Request = tuple[Caller, str, Resource]
ROLE_MIXES = [("analyst",), ("analyst", "service"), ("service",), ("auditor",),
              ("admin",), ("analyst", "approver"), ("operator",)]
LEVELS = ["public", "internal", "confidential", "secret"]


def callers(count: int, rng: random.Random, prefix: str = "user") -> list[Caller]:
    return [Caller(f"{prefix}-{n}", "user", frozenset(rng.choice(ROLE_MIXES)),
                   rng.choice(LEVELS[1:]), rng.choice(ORG_UNITS[:12]),
                   rng.choice(["DE", "DE", "FR", "US"]), via=f"apikey:{n:012x}")
            for n in range(count)]


def distinct_requests(who: Sequence[Caller], count: int, rng: random.Random,
                      tag: str) -> list[Request]:
    """``count`` requests, each about a document (and its collection) not asked before."""
    out: list[Request] = []
    for n in range(count):
        collection = f"c-{rng.randrange(80)}"
        document = Resource("Document", f"{tag}-{n}", {
            "classification": rng.choice(LEVELS), "collection": collection,
            "org_unit": rng.choice(ORG_UNITS[:12])})
        out.append((who[n % len(who)], "documents.read", document))
    return out


class GcWatch:
    """Counts and times the collections that run while it is active (diagnostic)."""

    def __init__(self) -> None:
        self.active = False
        self.count = 0
        self.seconds = 0.0
        self.longest = 0.0
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, _info: dict[str, int]) -> None:
        if not self.active:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            took = time.perf_counter() - self._started
            self.count += 1
            self.seconds += took
            self.longest = max(self.longest, took)

    def report(self, decisions: int) -> dict[str, float]:
        return {"collections": self.count, "per_1000_decisions": round(
                    self.count * 1000 / max(1, decisions), 2),
                "total_ms": round(self.seconds * 1e3, 2),
                "longest_us": round(self.longest * 1e6, 1)}


def minor_page_faults() -> int:
    """This thread's minor page faults so far (pages first touched or given back)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


@dataclass
class Line:
    """One measured line: a function of the sample index, its samples, and the minor
    page faults its calls took (a diagnostic: on a VM each costs microseconds)."""

    call: Callable[[int], object]
    clock: Callable[[], float] = time.perf_counter
    watch: GcWatch | None = None
    samples: array[float] = field(default_factory=lambda: array("d"))
    page_faults: int = 0

    def reserve(self, iterations: int) -> None:
        """Allocate every sample's slot up front: a list growing while it measures
        would fault in fresh pages during the calls being timed."""
        self.samples = array("d", bytes(8 * iterations))

    def run(self, start: int, count: int) -> None:
        clock, call, samples = self.clock, self.call, self.samples
        if self.watch is not None:
            self.watch.active = True
        faults_before = minor_page_faults()
        for i in range(start, start + count):
            before = clock()
            call(i)
            samples[i] = clock() - before
        self.page_faults += minor_page_faults() - faults_before
        if self.watch is not None:
            self.watch.active = False


def interleaved(lines: dict[str, Line], iterations: int) -> dict[str, dict[str, float]]:
    """Run every line in rounds of ``BLOCK`` samples, so each sees the same load."""
    for line in lines.values():
        line.reserve(iterations)
    for start in range(0, iterations, BLOCK):
        for line in lines.values():
            line.run(start, min(BLOCK, iterations - start))
    return {name: {**percentiles(line.samples),
                   "page_faults_per_1000": round(line.page_faults * 1000 / iterations, 2)}
            for name, line in lines.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=20_000)
    parser.add_argument("--gc-off", action="store_true",
                        help="also run decide_distinct with the collector disabled "
                             "(a diagnostic, not the figure)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    rng = random.Random(4)
    iterations = args.iterations

    policies = CompiledPolicies(hundred_policies())
    unsliced_policies = CompiledPolicies(policies.text, slice_policies=False)
    population = callers(40, rng)
    warm = distinct_requests(population, 2000, rng, "warm")
    measured = distinct_requests(population, iterations, rng, "doc")
    cpu_requests = distinct_requests(population, iterations, rng, "cpu")
    new_callers = distinct_requests(callers(iterations, rng, "new"), iterations, rng, "new")
    gc_off_requests = distinct_requests(population, iterations, rng, "gc") if args.gc_off else []
    allowed = sum(policies.decide(*r).allowed for r in measured[:2000]) / 2000

    alice = Caller("alice", "user", frozenset({"analyst", "service"}), "confidential",
                   "ou-4", "DE", via="apikey:0123456789ab")
    document = Resource("Document", "d-1", {"classification": "internal",
                                             "collection": "c-4", "org_unit": "ou-4"})
    assert policies.decide(alice, "documents.read", document).allowed  # a real allow

    request = {"principal": {"type": "Principal", "id": "alice"},
               "action": {"type": "Action", "id": "documents.read"},
               "resource": {"type": "Document", "id": "d-1"},
               "context": json.dumps({"access_grant_approved": False})}
    entities = cedarpy.Entities.from_json_str(json.dumps([
        {"uid": {"type": "Principal", "id": "alice"},
         "attrs": {"kind": "user", "clearance": 2, "org_unit": "ou-4", "jurisdiction": "DE"},
         "parents": [{"type": "Role", "id": "analyst"}, {"type": "Role", "id": "service"}]},
        {"uid": {"type": "Document", "id": "d-1"}, "attrs": {"classification": 1},
         "parents": [{"type": "Collection", "id": "c-4"}]}]))
    policy_set = cedarpy.PolicySet.from_str(policies.text)

    baseline = empty_handler_call()
    for _ in range(1000):  # warm-up: every caller's handle is cached, code paths are hot
        baseline()
    for r in itertools.islice(itertools.cycle(warm), 2000):
        policies.decide(*r)
        unsliced_policies.decide(*r)
    for _ in range(200):
        policies.decide(alice, "documents.read", document)
        cedarpy.is_authorized(request, policy_set, entities)

    watch = GcWatch()
    lines = {
        "baseline_empty_handler": Line(lambda _i: baseline()),
        "decide_distinct": Line(lambda i: policies.decide(*measured[i]), watch=watch),
        "decide_repeated": Line(lambda _i: policies.decide(alice, "documents.read", document)),
        "baseline_empty_handler_cpu_time": Line(lambda _i: baseline(), time.thread_time),
        "decide_distinct_cpu_time": Line(lambda i: policies.decide(*cpu_requests[i]),
                                         time.thread_time),
    }
    results = interleaved(lines, iterations)
    slow = max(200, iterations // 10)
    # A new principal per request churns the caller cache (one parse and one eviction
    # each), which a server sees at a first login, not on every request: measured in its
    # own round so that it does not stir the heap under the headline line.
    results.update(interleaved({
        "baseline_empty_handler_new_caller_round": Line(lambda _i: baseline()),
        "decide_new_caller": Line(lambda i: policies.decide(*new_callers[i])),
    }, iterations))
    results.update(interleaved({
        "decide_unsliced": Line(lambda i: unsliced_policies.decide(*measured[i])),
        "cedar_full_set_prebuilt": Line(
            lambda _i: cedarpy.is_authorized(request, policy_set, entities)),
    }, slow))
    report: dict[str, object] = {
        "benchmark": "policy_decision",
        "policies": len(policies),
        "iterations": iterations,
        "python": platform.python_version(),
        "cedarpy": getattr(cedarpy, "__version__", "4.x"),
        "load_average_before": [round(x, 2) for x in load_before],
        "decide_distinct_allowed_fraction": round(allowed, 3),
        **results,
        "gc_during_decide_distinct": watch.report(iterations),
    }
    if args.gc_off:
        gc.freeze()
        gc.disable()
        try:
            off = interleaved({"decide_distinct_gc_off_diagnostic": Line(
                lambda i: policies.decide(*gc_off_requests[i]))}, iterations)
        finally:
            gc.enable()
            gc.unfreeze()
        report.update(off)
    base, decide = results["baseline_empty_handler"], results["decide_distinct"]
    report.update({
        "decide_distinct_p99_over_baseline_p99": round(decide["p99_us"] / base["p99_us"], 3),
        "decide_distinct_p50_over_baseline_p50": round(decide["p50_us"] / base["p50_us"], 3),
        "target_p99_us": 200,
        "load_average_after": [round(x, 2) for x in os.getloadavg()],
    })
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
