"""CLI start-up (issue 15): wall time of ``sovra --version``, ``sovra --help``, ``sovra
status`` (asks the server over HTTP; here against a real ``sovra up``) and two read-only
commands that open the instance in their own process (``sovra models list``, ``sovra
ledger tail``), each as the ratio to ``python -c pass`` measured in the same run, runs
interleaved so load on the machine hits every command alike. Targets: --version and
--help under 0.3 s, a typical read-only command under 1 s.
Prints JSON with the median and minimum seconds and the ratios.
Run: .venv/bin/python benchmarks/cli_startup.py [--rounds 7]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.e2e.server import sovra_up

SOVRA = str(Path(sys.executable).parent / "sovra")


def _time(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        data_dir = Path(scratch) / "data"
        with sovra_up(data_dir) as server:
            env = {**os.environ, "SOVRA_DATA_DIR": str(data_dir), "COLUMNS": "120"}
            commands = {
                "python -c pass": [sys.executable, "-c", "pass"],
                "sovra --version": [SOVRA, "--version"],
                "sovra --help": [SOVRA, "--help"],
                "sovra status (HTTP)": [SOVRA, "status", "--api-key", server.admin_key],
                "sovra models list (in-process)": [SOVRA, "models", "list"],
                "sovra ledger tail (in-process)": [SOVRA, "ledger", "tail", "-n", "1"],
            }
            for argv in commands.values():  # warm the page cache and .pyc files
                _time(argv, env)
            samples: dict[str, list[float]] = {name: [] for name in commands}
            for _ in range(args.rounds):
                for name, argv in commands.items():
                    samples[name].append(_time(argv, env))
    base = statistics.median(samples["python -c pass"])
    out = {
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_1min": os.getloadavg()[0]},
        "rounds": args.rounds,
        "commands": {name: {"median_s": round(statistics.median(v), 3),
                            "min_s": round(min(v), 3),
                            "ratio_to_python": round(statistics.median(v) / base, 1)}
                     for name, v in samples.items()},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
