"""YARA scanning: yara-x and yara-python against Debian's ``yara`` command (issue 18).

One run, the same files and rules for all three:
  * baseline: ``yara -r RULES DIR`` (the command line, Debian's package), wall time;
  * yara_x / yara_python: compile once, then scan every file's bytes in this process
    (what ingest does: the document is in memory already).

Files: ``--files`` text-like documents of ``--size`` bytes, one in 50 carrying the
EICAR test string; rules: EICAR plus ``--rules`` string rules that never match.
Prints JSON: seconds, MB/s and each engine's ratio to the command line (higher is
better; issue 18 asks at least 0.8).
Run: .venv/bin/python benchmarks/yara_scan.py [--files 2000 --size 65536 --rules 50]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"
EICAR_RULE = 'rule eicar { strings: $e = "EICAR-STANDARD-ANTIVIRUS-TEST-FILE" condition: $e }\n'


def rules_text(count: int) -> str:
    rng = random.Random(7)
    extra = "".join(
        f'rule never_{i} {{ strings: $a = "{rng.randbytes(8).hex()}" '
        f'$b = {{ {" ".join(f"{b:02X}" for b in rng.randbytes(6))} }} condition: any of them }}\n'
        for i in range(count))
    return EICAR_RULE + extra


def make_files(folder: Path, count: int, size: int) -> list[Path]:
    rng = random.Random(1)
    words = [bytes(rng.choices(b"abcdefghijklmnopqrstuvwxyz", k=rng.randint(2, 9)))
             for _ in range(2000)]
    paths = []
    for i in range(count):
        body = bytearray()
        while len(body) < size:
            body += rng.choice(words) + b" "
        if i % 50 == 0:
            body[size // 2:size // 2 + len(EICAR)] = EICAR
        path = folder / f"doc{i:05d}.txt"
        path.write_bytes(bytes(body[:size]))
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--size", type=int, default=65536)
    parser.add_argument("--rules", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    import yara
    import yara_x

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "docs"
        folder.mkdir()
        paths = make_files(folder, args.files, args.size)
        rules_path = Path(tmp) / "rules.yar"
        rules_path.write_text(rules_text(args.rules))
        cli = shutil.which("yara")
        results: dict[str, object] = {}
        best: dict[str, float] = {}
        expected = len(range(0, args.files, 50))
        for _ in range(args.repeat):
            if cli:
                start = time.perf_counter()
                out = subprocess.run([cli, "-r", "-p", "1", str(rules_path), str(folder)],
                                     check=True, capture_output=True).stdout
                best["yara_cli"] = min(best.get("yara_cli", 1e9), time.perf_counter() - start)
                assert out.count(b"eicar ") == expected, out[:200]
            compiled_x = yara_x.compile(rules_path.read_text())
            start = time.perf_counter()
            scanner = yara_x.Scanner(compiled_x)
            hits = sum(1 for p in paths if scanner.scan(p.read_bytes()).matching_rules)
            best["yara_x"] = min(best.get("yara_x", 1e9), time.perf_counter() - start)
            assert hits == expected
            compiled_p = yara.compile(filepath=str(rules_path))
            start = time.perf_counter()
            hits = sum(1 for p in paths if compiled_p.match(data=p.read_bytes()))
            best["yara_python"] = min(best.get("yara_python", 1e9),
                                      time.perf_counter() - start)
            assert hits == expected
        megabytes = args.files * args.size / 1e6
        for name, seconds in best.items():
            results[name] = {"seconds": round(seconds, 4),
                             "mb_per_s": round(megabytes / seconds, 1)}
        if "yara_cli" in best:
            for name in ("yara_x", "yara_python"):
                results[f"{name}_vs_cli"] = round(best["yara_cli"] / best[name], 2)
        results["setup"] = {"files": args.files, "size": args.size, "rules": args.rules + 1,
                            "cpus": os.cpu_count(), "python": platform.python_version(),
                            "yara_x": yara_x.__version__ if hasattr(yara_x, "__version__")
                            else "?", "yara_python": yara.__version__,
                            "cli": subprocess.run([cli, "--version"], capture_output=True,
                                                  text=True).stdout.strip() if cli else None}
        print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
