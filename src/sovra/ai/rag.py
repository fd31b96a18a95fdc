"""Retrieval-augmented prompts: put permitted passages in front of the question.

The passages are numbered so the model can cite them as [1], [2], ...; the gateway
returns the matching citations (document id, version, chunk position) beside the answer.
"""

from __future__ import annotations

from collections.abc import Sequence

from sovra.ai.models import ChatMessage

_INSTRUCTION = (
    "Answer the user's question using only the numbered passages below. Cite the passages "
    "you use as [n]. If the passages do not contain the answer, say that you do not know.")


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
