"""Redaction of a support bundle against the classifier's own throughput, same run.

A support bundle's text (default 100 MB) is generated: log lines and configuration
(seeded), with an e-mail, an IP address, an IBAN or a token in roughly one line in 25
(about one identifier per 2.5 KB). Both sides are timed in thread CPU time (MB/s per
core) on the same text: the classifier alone (``sovra.data.classify.scan``, what the
data room's detectors cost) and the export's redaction (``redact_file``: scan, replace,
and the second look around every replacement). The issue's target: redaction at the
classifier's throughput and at least 20 MB/s per core.

The baseline, measured in the same run, is the classifier without its prefilter
(``sovra.data.classify._prefilter``): the digit-run test answers "look properly" for
every run and the IPv6 candidate's start is found with the ``HEX_TAIL`` regex, as before
the prefilter existed. Findings are compared, not only timed: the prefilter must change
the speed and nothing else.

    .venv/bin/python benchmarks/export_redaction.py [--mb 100]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sovra.data.classify._anchored as anchored
import sovra.data.classify._numbers as numbers
from sovra.analytics.export.redact import SourceFile, redact_file
from sovra.data.classify import scan
from sovra.data.classify._patterns import HEX_TAIL
from sovra.policy import Classification

_LINES = [
    ("2026-12-07T03:12:45Z INFO sovra.api request completed status=200 route=/data/search "
     "duration_ms=41"),
    "2026-12-07T03:12:46Z DEBUG sovra.ledger batch committed entries=12 wait_ms=3",
    "2026-12-07T03:12:47Z WARN sovra.ai upstream slow model=mistral latency_ms=1840",
    "worker_threads = 8  # configuration: the number of search threads",
    "2026-12-07T03:12:48Z INFO sovra.data ingest finished documents=14 chunks=220",
]
_IBANS = ["DE89370400440532013000", "GB82WEST12345698765432", "FR1420041010050500013M02606"]


def _sensitive(rng: random.Random, i: int) -> str:
    choice = rng.randrange(4)
    if choice == 0:
        return f"2026-12-07T03:12:49Z INFO sovra.identity login user=user{i}@example.com"
    if choice == 1:
        return f"2026-12-07T03:12:49Z INFO sovra.api client=10.{i % 250}.{i % 200}.7 ok"
    if choice == 2:
        return f"payout account {_IBANS[i % 3]} settled"
    return f"aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCY{i:010d}"


def generate(mb: float, seed: int = 7, *, timestamps: bool = True) -> str:
    rng = random.Random(seed)
    parts, size, i = [], 0, 0
    target = int(mb * 1_000_000)
    while size < target:
        line = _sensitive(rng, i) if rng.randrange(25) == 0 else rng.choice(_LINES)
        if not timestamps and line.startswith("2026-"):
            line = line.split(" ", 1)[1]  # the ISO timestamp: most of the classifier's cost
        parts.append(line)
        size += len(line) + 1
        i += 1
    return "\n".join(parts) + "\n"


def _look_properly(_text: str, _start: int, _end: int) -> bool:
    return False


def _hex_tail_by_regex(text: str, at: int) -> int:
    tail = HEX_TAIL.search(text, max(0, at - 40), at)
    return tail.start() if tail else at


def scan_without_prefilter(text: str) -> object:
    """``scan`` as it was before the prefilter: the same code with both shortcuts off."""
    inert, tail = numbers.inert_digit_run, anchored.hex_tail_start
    numbers.inert_digit_run, anchored.hex_tail_start = _look_properly, _hex_tail_by_regex
    try:
        return scan(text)
    finally:
        numbers.inert_digit_run, anchored.hex_tail_start = inert, tail


def cpu(action: object) -> float:
    start = time.thread_time()
    action()  # type: ignore[operator]
    return time.thread_time() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mb", type=float, default=100.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    out: dict[str, object] = {"runs": args.runs,
                              "target": "redaction >= 20 MB/s per core, at the classifier's "
                                        "throughput"}
    for variant, stamped in (("log_lines_with_iso_timestamps", True),
                             ("log_lines_without_timestamps", False)):
        out[variant] = measure(generate(args.mb, timestamps=stamped), args.runs)
    print(json.dumps(out, indent=2))


def measure(text: str, runs: int) -> dict[str, object]:
    mb = len(text.encode()) / 1_000_000
    source = SourceFile("logs/sovra.log", text, Classification.INTERNAL)
    sample = text[:2_000_000]
    if scan(sample) != scan_without_prefilter(sample):
        raise SystemExit("the prefilter changed the findings: a defect, not a speed-up")
    baselines, scans, redactions = [], [], []
    for _ in range(runs):  # alternated, medians compared
        baselines.append(cpu(lambda: scan_without_prefilter(text)))
        scans.append(cpu(lambda: scan(text)))
        redactions.append(cpu(lambda: redact_file(source)))
    baseline = mb / sorted(baselines)[len(baselines) // 2]
    classifier = mb / sorted(scans)[len(scans) // 2]
    redaction = mb / sorted(redactions)[len(redactions) // 2]
    counts = redact_file(SourceFile("x", sample, Classification.INTERNAL)).counts
    return {"mb": round(mb, 1), "findings_per_2mb": counts,
            "classifier_without_prefilter_mb_s_per_core": round(baseline, 1),
            "classifier_mb_s_per_core": round(classifier, 1),
            "prefilter_speedup": round(classifier / baseline, 2),
            "redaction_mb_s_per_core": round(redaction, 1),
            "redaction_over_classifier": round(redaction / classifier, 3),
            "target_met": redaction >= 20.0}


if __name__ == "__main__":
    main()
