"""Why prompt processing is slow (issue 15): the time to the first token of an 850-token
RAG prompt under llama.cpp settings Sovra controls, each as a ratio to the baseline
(Sovra's settings before issue 15) measured in the same run.

Each configuration runs in a fresh process (OpenMP reads its environment once, at
load), loads the model, warms up, then times ``eval`` of the same 850 prompt tokens
with an empty cache (the time to the first token, less one sampling step) and 32
single-token evaluations (the generation rate). Wall time and process CPU time (all
threads) are both reported: on a loaded machine wall time says what a user waits,
CPU time says how much work (or spinning) the setting costs. Rounds alternate the
configurations in rotated order so that background load hits all alike.

Configurations: the file's quantisation (Q4_1 as shipped; Q8_0 and Q4_0 requantised
from it here, in a temporary folder, with llama.cpp's own quantiser), thread counts,
OpenMP's wait policy (spinning vs sleeping workers), flash attention and the batch
sizes. Prints JSON. Run:

    .venv/bin/python benchmarks/prompt_processing.py [--rounds 3] [--only a,b]
"""

from __future__ import annotations

import argparse
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
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

PROMPT_TOKENS = 850
DECODE_TOKENS = 32

PASSIVE = {"OMP_WAIT_POLICY": "passive"}
# name -> (weights: "q4_1" | "q8_0" | "q4_0", extra environment, Llama keyword arguments)
CONFIGS: dict[str, tuple[str, dict[str, str], dict[str, Any]]] = {
    "baseline": ("q4_1", {}, {"n_threads": 2}),
    "passive": ("q4_1", PASSIVE, {"n_threads": 2}),
    "passive_fa": ("q4_1", PASSIVE, {"n_threads": 2, "flash_attn": True}),
    "threads1": ("q4_1", {}, {"n_threads": 1, "n_threads_batch": 1}),
    "q8_0": ("q8_0", {}, {"n_threads": 2}),
    "q8_0_passive_fa": ("q8_0", PASSIVE, {"n_threads": 2, "flash_attn": True}),
    "q4_0_passive_fa": ("q4_0", PASSIVE, {"n_threads": 2, "flash_attn": True}),
    # One thread to generate (no barrier per operation per token), two for the prompt.
    "split_passive_fa": ("q4_1", PASSIVE, {"n_threads": 1, "n_threads_batch": 2,
                                           "flash_attn": True}),
    "flash_attn": ("q4_1", {}, {"n_threads": 2, "flash_attn": True}),
    "ubatch128": ("q4_1", {}, {"n_threads": 2, "n_ubatch": 128}),
}


@contextlib.contextmanager
def quiet_stderr() -> Iterator[None]:
    """llama.cpp's quantiser logs every tensor on fd 2; keep the report readable."""
    saved = os.dup(2)
    with open(os.devnull, "w") as null:
        os.dup2(null.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)


def requantise(source: Path, folder: Path) -> dict[str, Path]:
    import llama_cpp

    files = {"q4_1": source}
    for name, ftype in (("q8_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0),
                        ("q4_0", llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_0)):
        params = llama_cpp.llama_model_quantize_default_params()
        params.ftype = ftype
        params.allow_requantize = True
        out = folder / f"smollm2-{name}.gguf"
        with quiet_stderr():
            rc = llama_cpp.llama_model_quantize(str(source).encode(), str(out).encode(),
                                                params)
        if rc != 0:
            raise SystemExit(f"requantising to {name} failed ({rc})")
        files[name] = out
    return files


def rag_prompt() -> str:
    """The demo documents as passages before a question, in SmolLM2's chat format."""
    from sovra.ai.models import ChatMessage
    from sovra.ai.rag import with_context

    folder = ROOT / "src" / "sovra" / "ai" / "demo" / "documents"
    passages = [p.read_text() for p in sorted(folder.glob("*.md"))]
    messages = with_context([ChatMessage("user", "How long is CCTV footage kept?")], passages)
    return "".join(f"<|im_start|>{m.role}\n{m.content}<|im_end|>\n" for m in messages)


def worker(weights: str, kwargs: dict[str, Any], reps: int) -> None:
    from llama_cpp import Llama

    llm = Llama(model_path=weights, n_ctx=2048, seed=0, verbose=False, **kwargs)
    tokens = llm.tokenize(rag_prompt().encode(), add_bos=False, special=True)
    if len(tokens) < PROMPT_TOKENS + DECODE_TOKENS:
        raise SystemExit(f"the prompt has only {len(tokens)} tokens")
    prompt, decode = tokens[:PROMPT_TOKENS], tokens[PROMPT_TOKENS:][:DECODE_TOKENS]
    llm.reset()
    llm.eval(prompt[:64])  # warm-up: first-touch pages, thread pool start
    rows = []
    for _ in range(reps):
        llm.reset()
        wall, cpu = time.perf_counter(), time.process_time()
        llm.eval(prompt)
        pp_wall, pp_cpu = time.perf_counter() - wall, time.process_time() - cpu
        wall, cpu = time.perf_counter(), time.process_time()
        for token in decode:
            llm.eval([token])
        tg_wall, tg_cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append({"pp_wall": pp_wall, "pp_cpu": pp_cpu, "tg_wall": tg_wall,
                     "tg_cpu": tg_cpu})
    print(json.dumps(rows))


def run_one(name: str, files: dict[str, Path], reps: int) -> list[dict[str, float]]:
    kind, env, kwargs = CONFIGS[name]
    spec = json.dumps({"weights": str(files[kind]), "kwargs": kwargs, "reps": reps})
    # Importing sovra.ai (for the prompt) sets OMP_WAIT_POLICY in this process, as the
    # server does: each configuration states its own, the baseline GNU OpenMP's default.
    base = {k: v for k, v in os.environ.items() if not k.startswith(("OMP_", "GOMP_"))}
    out = subprocess.run([sys.executable, __file__, "--worker", spec], check=True,
                         capture_output=True, text=True, env={**base, **env})
    rows: list[dict[str, float]] = json.loads(out.stdout.strip().splitlines()[-1])
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=2, help="timed prompts per process")
    parser.add_argument("--only", default="", help="comma-separated configurations")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        spec = json.loads(args.worker)
        worker(spec["weights"], spec["kwargs"], spec["reps"])
        return
    from sovra.ai.builtin import smollm2_path

    names = ["baseline", *[n for n in (args.only.split(",") if args.only else CONFIGS)
                           if n != "baseline"]]
    results: dict[str, list[dict[str, float]]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory() as scratch:
        files = requantise(smollm2_path(), Path(scratch))
        for r in range(args.rounds):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                results[name].extend(run_one(name, files, args.reps))
                print(f"round {r + 1} {name}: {results[name][-1]}", file=sys.stderr,
                      flush=True)

    def med(name: str, key: str) -> float:
        return statistics.median(row[key] for row in results[name])

    summary = {}
    for name in names:
        summary[name] = {
            "ttft_s": round(med(name, "pp_wall"), 3),
            "prompt_tok_s": round(PROMPT_TOKENS / med(name, "pp_wall"), 1),
            "prompt_cpu_s": round(med(name, "pp_cpu"), 3),
            "gen_tok_s": round(DECODE_TOKENS / med(name, "tg_wall"), 1),
            "ttft_speedup_vs_baseline": round(med("baseline", "pp_wall")
                                              / med(name, "pp_wall"), 2),
            "cpu_ratio_vs_baseline": round(med(name, "pp_cpu") / med("baseline", "pp_cpu"),
                                           2)}
    print(json.dumps({"prompt_tokens": PROMPT_TOKENS, "rounds": args.rounds,
                      "reps": args.reps, "cpus": os.cpu_count(),
                      "load_1min": round(os.getloadavg()[0], 2), "configs": {
                          n: {"weights": CONFIGS[n][0], "env": CONFIGS[n][1],
                              "llama": CONFIGS[n][2]} for n in names},
                      "summary": summary}, indent=1))


if __name__ == "__main__":
    main()
