"""CLI start-up (issue 15): wall time of ``sovra --version``, ``sovra --help`` and the
typical read-only commands, each as the ratio to ``python -c pass`` measured in the same
run, runs interleaved so load on the machine hits every command alike.

Against a real ``sovra up``: with an API key, ``status``, ``models list``, ``policy
show``, ``data collection list``, ``lockbox status`` and ``keys status`` ask the running
server over HTTP; ``ledger tail`` reads the ledger table alone and ``ledger verify`` a
small export from files alone. ``models list`` without a key opens the instance in its
own process, the path every command took before (the figure the others are compared
with). Targets: --version and --help under 0.3 s, a typical read-only command under 1 s.
Prints JSON with the median and minimum wall seconds, the ratios, and each command's
median CPU seconds (user + system: what a quiet machine's wall time approaches).
Run: .venv/bin/python benchmarks/cli_startup.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import Server, sovra_up

SOVRA = str(Path(sys.executable).parent / "sovra")


def _run(argv: list[str], env: dict[str, str]) -> str:
    return subprocess.run(argv, env=env, capture_output=True, text=True, check=True).stdout


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


CPU: dict[str, list[float]] = {}


def _time(argv: list[str], env: dict[str, str], name: str = "") -> float:
    """Wall seconds; the command's CPU seconds (user + system) go to ``CPU[name]``: on a
    loaded machine the wall time is mostly waiting for a core, the CPU time much less."""
    cpu_before = _children_cpu()
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    if name:
        CPU.setdefault(name, []).append(_children_cpu() - cpu_before)
    return elapsed


def _commands(server: Server, archive: Path) -> dict[str, list[str]]:
    key = ["--api-key", server.admin_key]
    return {
        "python -c pass": [sys.executable, "-c", "pass"],
        "sovra --version": [SOVRA, "--version"],
        "sovra --help": [SOVRA, "--help"],
        "sovra status (HTTP)": [SOVRA, "status", *key],
        "sovra models list (HTTP)": [SOVRA, "models", "list", *key],
        "sovra policy show (HTTP)": [SOVRA, "policy", "show", *key],
        "sovra data collection list (HTTP)": [SOVRA, "data", "collection", "list", *key],
        "sovra lockbox status (HTTP)": [SOVRA, "lockbox", "status", *key],
        "sovra keys status (HTTP)": [SOVRA, "keys", "status", *key],
        "sovra ledger tail (ledger table)": [SOVRA, "ledger", "tail", "-n", "5"],
        "sovra ledger verify (small export)": [SOVRA, "ledger", "verify", str(archive)],
        "sovra models list (opens the instance)": [SOVRA, "models", "list"],
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        archive = Path(scratch) / "ledger.zip"
        with sovra_up(data_dir) as server:
            env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "120"}
            env.pop("SOVRA_API_KEY", None)
            _time([SOVRA, "ledger", "export", str(archive)], env)
            commands = _commands(server, archive)
            for argv in commands.values():  # warm the page cache and .pyc files
                _time(argv, env)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.rounds):
                for name, argv in commands.items():
                    samples[name].append(_time(argv, env, name))
            ledger_size = len(_run([SOVRA, "ledger", "tail", "-n", "10000"], env).splitlines())
    base = statistics.median(samples["python -c pass"])
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_1min": os.getloadavg()[0]},
        "rounds": args.rounds,
        "ledger_entries_after_the_run": ledger_size,
        "commands": {name: {"median_s": round(statistics.median(v), 3),
                            "min_s": round(min(v), 3),
                            "ratio_to_python": round(statistics.median(v) / base, 1),
                            "cpu_median_s": round(statistics.median(CPU[name]), 3)}
                     for name, v in samples.items()},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
