"""What the gateway needs from a chat backend, whichever process runs the model."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Protocol

from sovra.ai.models import ChatMessage, Delta, GenerationParams, Usage


@dataclass(frozen=True)
class Completion:
    text: str
    finish_reason: str
    usage: Usage


class ChatBackend(Protocol):
    async def complete(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        """Generate the whole answer."""
        ...

    def stream(self, messages: Sequence[ChatMessage],
               params: GenerationParams) -> AsyncGenerator[Delta, None]:
        """Yield the answer piece by piece; the last delta carries ``finish_reason``.

        Closing the iterator early (the client went away) stops generation.
        """
        ...

    async def aclose(self) -> None:
        ...


def estimate_tokens(text: str) -> int:
    """A cheap token estimate (about four characters a token) for upstreams that omit usage."""
    return max(1, (len(text) + 3) // 4) if text else 0
