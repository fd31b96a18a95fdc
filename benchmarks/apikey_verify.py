"""API key verification latency (issue 4: p99 < 50 µs).

Measures, in one run against a real embedded (SQLite) instance:
  * baseline: an empty FastAPI request handler, called in-process through ASGI;
  * verify_cached: ``IdentityService.verify_api_key`` for a key verified moments ago
    (parse, one dict lookup, SHA-256, constant-time compare, expiry check): the path
    every request after the first takes within the cache TTL;
  * verify_uncached: the same with the cache dropped each time (one indexed SELECT
    plus the principal and group lookups): the first request, and after a revocation;
  * sha256_only: the hash of the secret alone, the floor of any correct verification.

Prints JSON with p50/p99 in microseconds and ratios to the baseline.
Run: .venv/bin/python benchmarks/apikey_verify.py [--iterations 20000]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

from policy_decision import empty_handler_call, measure
from sovra.config import load_settings
from sovra.identity.apikeys import parse, secret_digest
from sovra.instance import open_instance


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--iterations", type=int, default=20_000)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        instance = open_instance(load_settings(data_dir=Path(tmp), checkpoint_interval_s=0.0))
        try:
            identity = instance.identity
            identity.create_principal("bench", "dana", roles=["analyst"],
                                      clearance="internal")
            token = identity.create_api_key("bench", "dana").token
            assert identity.verify_api_key(token).principal_id == "dana"
            parsed = parse(token)

            def uncached() -> object:
                identity._forget()
                return identity.verify_api_key(token)

            baseline = measure(empty_handler_call(), args.iterations)
            cached = measure(lambda: identity.verify_api_key(token), args.iterations)
            cached_cpu = measure(lambda: identity.verify_api_key(token), args.iterations,
                                 cpu=True)
            cold = measure(uncached, max(200, args.iterations // 20))
            floor = measure(lambda: secret_digest(parsed.key_id, parsed.secret),
                            args.iterations)
        finally:
            instance.close()
    print(json.dumps({
        "benchmark": "apikey_verify",
        "iterations": args.iterations,
        "python": platform.python_version(),
        "baseline_empty_handler": baseline,
        "verify_cached": cached,
        "verify_cached_cpu_time": cached_cpu,
        "verify_uncached_sqlite": cold,
        "sha256_only": floor,
        "cached_p99_over_baseline_p99": round(cached["p99_us"] / baseline["p99_us"], 5),
        "cached_p50_over_baseline_p50": round(cached["p50_us"] / baseline["p50_us"], 5),
        "target_p99_us": 50,
    }, indent=2))


if __name__ == "__main__":
    main()
