"""Retrieval-augmented prompts: put relevant permitted passages in front of the question,
and say "the documents do not say" when none is relevant (issue 15, ADR 0610).

Retrieval always returns its k best chunks, however poor: its fused score is a rank
(RRF), not a measure of relevance, so a question the documents do not answer still got
passages, and a small model then invented an answer from them. Relevance is measured
here as the cosine similarity between the question's and each chunk's sentence
embedding (the data layer's model, the one retrieval used). Chunks below the threshold
are not given to the model; when no chunk is left, Sovra answers ``DECLINE_ANSWER``
itself, without running the model, and the request's ledger entry records the
similarities, the threshold and the decision.

The passages are numbered so the model can cite them as [1], [2], ...; ``used_passages``
keeps the citations of the passages an answer used.
"""

from __future__ import annotations

import asyncio
import math
import re
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass

from sovra.ai.backends.base import Completion
from sovra.ai.models import (
    ChatMessage,
    Citation,
    Delta,
    GenerationParams,
    RetrievedChunk,
    Usage,
)
from sovra.ai.ports import EmbedderPort

DECLINE_ANSWER = "The documents do not say."
# Chosen on the question set of benchmarks/rag_quality.py (ADR 0610): the chunk holding
# the answer scored 0.38 or more for every answerable question (0.40 or more on the held
# out ones), off-topic questions 0.21-0.26. 0.30 keeps a margin below the answerable
# ones; unanswerable questions about things the documents do talk about (the company's
# chief executive, 0.30-0.38) score like answerable ones: the prompt must handle those.
RELEVANCE_THRESHOLD = 0.30

_INSTRUCTION = (
    "Answer the user's question using only the numbered passages below. Cite the passages "
    f"you use as [n]. If the passages do not contain the answer, reply: {DECLINE_ANSWER}")


def question_of(messages: Sequence[ChatMessage]) -> str:
    """The text retrieval searches for: the last user turn."""
    for message in reversed(messages):
        if message.role == "user":
            return message.content
    return ""


def with_context(messages: Sequence[ChatMessage], passages: Sequence[str]) -> list[ChatMessage]:
    """Insert one system message carrying the passages before the conversation."""
    if not passages:
        return list(messages)
    numbered = "\n\n".join(f"[{i}] {text.strip()}" for i, text in enumerate(passages, 1))
    context = ChatMessage("system", f"{_INSTRUCTION}\n\n{numbered}")
    return [context, *messages]


# -- relevance ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Grounding:
    """Which retrieved chunks are relevant enough to be given to the model, and why."""

    chunks: tuple[RetrievedChunk, ...]
    similarities: tuple[float, ...]  # of every retrieved chunk, in retrieval order
    threshold: float
    declined: bool
    reason: str

    def details(self) -> dict[str, object]:
        """For the request's ledger entry. Similarities as integer thousandths: a float
        would send the entry down the ledger's slow canonical-JSON path (ADR 0606)."""
        return {"decision": "decline" if self.declined else "answer",
                "similarity_milli": [round(s * 1000) for s in self.similarities],
                "threshold_milli": round(self.threshold * 1000), "reason": self.reason}


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


def ground(chunks: Sequence[RetrievedChunk], similarities: Sequence[float],
           threshold: float) -> Grounding:
    """Keep the chunks at or above ``threshold``; decline when none is left. Pure."""
    if len(chunks) != len(similarities):
        raise ValueError("one similarity per chunk")
    kept = tuple(c for c, s in zip(chunks, similarities, strict=True) if s >= threshold)
    sims = tuple(similarities)
    if not chunks:
        return Grounding((), sims, threshold, declined=True,
                         reason="retrieval found no passage")
    if not kept:
        return Grounding((), sims, threshold, declined=True,
                         reason=f"no passage reaches the relevance threshold "
                                f"({max(sims):.2f} < {threshold:.2f})")
    return Grounding(kept, sims, threshold, declined=False,
                     reason=f"{len(kept)} of {len(chunks)} passages reach the relevance "
                            "threshold")


async def grounding(embedder: EmbedderPort | None, question: str,
                    chunks: Sequence[RetrievedChunk], threshold: float) -> Grounding:
    """Score ``chunks`` against ``question`` (off the event loop) and ``ground`` them.

    With no embedder on the instance nothing can be scored: every chunk is kept and the
    reason says so (the model's prompt still asks it to decline)."""
    if embedder is None or not chunks or threshold <= -1.0:
        return Grounding(tuple(chunks), tuple(c.score for c in chunks), threshold,
                         declined=not chunks, reason="retrieval found no passage"
                         if not chunks else "relevance not scored")
    vectors = await asyncio.to_thread(embedder.embed, [question, *(c.text for c in chunks)])
    similarities = [cosine(vectors[0], v) for v in vectors[1:]]
    return ground(chunks, similarities, threshold)


class DeclineBackend:
    """A ``ChatBackend`` that answers ``DECLINE_ANSWER`` without a model: what Sovra says
    when no passage is relevant. Recorded like any answer (hash, tokens, latency)."""

    @staticmethod
    def _usage() -> Usage:
        return Usage(0, 0)

    async def complete(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        return Completion(DECLINE_ANSWER, "stop", self._usage())

    async def stream(self, messages: Sequence[ChatMessage],
                     params: GenerationParams) -> AsyncGenerator[Delta, None]:
        yield Delta(text=DECLINE_ANSWER)
        yield Delta(finish_reason="stop", prompt_tokens=0, completion_tokens=0)

    async def aclose(self) -> None:
        return None


DECLINE = DeclineBackend()


# -- citations --------------------------------------------------------------------------

_MARK = re.compile(r"\[(\d{1,3})\]")
_WORD = re.compile(r"[0-9]+(?:[.,:][0-9]+)*|[a-z][a-z0-9-]{2,}")
_STOP_WORDS = (
    "the and for are was were with that this from have has had not but you your they "
    "their what which who whom when where how why can may must any all per each than "
    "then there these those its into out about also only does did done our over under "
    "passage passages documents document answer question")
_STOP = frozenset(_STOP_WORDS.split())


def _content_words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if w not in _STOP}


def used_passages(answer: str, passages: Sequence[str]) -> tuple[int, ...]:
    """Indices (0-based) of the passages ``answer`` used.

    The model's own [n] marks decide when it wrote any that name a passage. Otherwise a
    passage counts as used when it shares a number with the answer or at least two
    content words: small models often omit the marks, and an answer that repeats a
    passage's figure or wording came from it. ``DECLINE_ANSWER`` used none.
    """
    if not passages or answer.strip() == DECLINE_ANSWER:
        return ()
    marked = sorted({int(m) - 1 for m in _MARK.findall(answer)
                     if 1 <= int(m) <= len(passages)})
    if marked:
        return tuple(marked)
    words = _content_words(_MARK.sub(" ", answer))
    used = []
    for i, passage in enumerate(passages):
        shared = words & _content_words(passage)
        if any(w[0].isdigit() for w in shared) or len(shared) >= 2:
            used.append(i)
    return tuple(used)


def passages_of(messages: Sequence[ChatMessage]) -> list[str]:
    """The passages ``with_context`` put before the conversation, as the model saw them
    (after any redaction); none when the first message is not that context."""
    if not messages or messages[0].role != "system" or \
            not messages[0].content.startswith(_INSTRUCTION):
        return []
    body = messages[0].content[len(_INSTRUCTION):].strip()
    pieces = re.split(r"\n\n(?=\[\d+\] )", body)
    return [re.sub(r"^\[\d+\] ", "", piece, count=1) for piece in pieces if piece]


def cited(citations: Sequence[Citation], messages: Sequence[ChatMessage],
          answer: str) -> tuple[Citation, ...]:
    """The citations of the passages ``answer`` used (``used_passages``), in order.

    None for Sovra's own decline. When that cannot be determined (the passages do not
    match the citations one to one, or the answer shares nothing with any passage) all
    are kept: a citation too many is visible and checkable, a missing one is not."""
    if answer.strip() == DECLINE_ANSWER:
        return ()
    passages = passages_of(messages)
    if len(passages) != len(citations):
        return tuple(citations)
    used = used_passages(answer, passages)
    return tuple(citations[i] for i in used) if used else tuple(citations)
