"""The chat playground: a question over the collections the user may read, the answer
streamed into the page as the model writes it, citations that open the cited passage.

The same operation as ``POST /v1/chat/completions``: ``models.use`` decided and
recorded, then ``Gateway.chat`` (governance, retrieval under the caller's own
authorization, the request recorded; the outcome recorded before the last piece is
sent), whose ``async with`` block the page is sent in (``ChatPage``, ADR 0609). The
answer streams as HTML over one response, so it needs no script: the browser shows
each piece as it arrives.
"""

from __future__ import annotations

import html
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from sovra.ai import AdmittedChat, ChatMessage, ChatRequest, Gateway, GenerationParams, PreparedChat
from sovra.ai import GatewayPrincipal as Principal
from sovra.data import ChunkingConfig, chunk_text
from sovra.errors import SovraError

MARK = "<!--answer-->"
# Playground answers stay short: it is for trying questions, not for long documents.
MAX_TOKENS = 128


def request_of(model: str, question: str, collections: tuple[str, ...]) -> ChatRequest:
    return ChatRequest(model, (ChatMessage("user", question),),
                       GenerationParams(max_tokens=MAX_TOKENS, temperature=0.0),
                       collections, citations=True, top_k=3)


class ChatPage(Response):
    """The answer page, sent inside the gateway's chat block: the block owns the
    caller's slot and the outcome record, even for a page whose body never starts.
    A refusal before the answer is the page ``on_error`` renders."""

    def __init__(self, gateway: Gateway, caller: Principal, request: ChatRequest, *,
                 render: Callable[[str], str], base: str,
                 on_error: Callable[[SovraError], Response]) -> None:
        super().__init__()
        self._gateway = gateway
        self._caller = caller
        self._request = request
        self._render = render
        self._base = base
        self._on_error = on_error

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False
        try:
            async with self._gateway.chat(self._caller, None, self._request) as answer:
                page = StreamingResponse(
                    stream_page(answer, self._render(answer.request_id), self._base),
                    media_type="text/html; charset=utf-8",
                    headers={"x-request-id": answer.request_id})
                started = True
                await page(scope, receive, send)
        except SovraError as exc:
            if started:
                raise  # the page has begun: nothing else can be sent
            await self._on_error(exc)(scope, receive, send)


async def stream_page(answer: AdmittedChat, page: str, base: str) -> AsyncIterator[bytes]:
    """The page up to the answer, the answer piece by piece, then its citations."""
    head, tail = page.split(MARK, 1)
    yield head.encode()
    try:
        async for delta in answer.stream():
            if delta.text:
                yield html.escape(delta.text).encode()
    except SovraError as exc:
        yield (f'</p><p class="error" role="alert">The answer stopped: '
               f"{html.escape(str(exc))}</p><p>").encode()
    yield b"</p>" + citations_html(answer.prepared, base).encode() + tail.encode()


def citations_html(prepared: PreparedChat, base: str) -> str:
    if not prepared.citations:
        return '<p class="note">No passage was cited (no collection chosen, or none matched).</p>'
    items = []
    for number, cite in enumerate(prepared.citations, 1):
        href = (f"{base}/passages/{html.escape(cite.document_id)}?chunk={cite.chunk_position}"
                f"&amp;version={cite.version}#passage")
        items.append(f'<li><a href="{href}">[{number}] {html.escape(cite.collection)} / '
                     f"{html.escape(cite.document_id)} v{cite.version}, passage "
                     f"{cite.chunk_position}</a> ({html.escape(cite.classification)})</li>")
    return (f'<h2>Citations</h2><ol id="citations">{"".join(items)}</ol>'
            f'<p class="note">Request <span class="mono">{html.escape(prepared.request_id)}'
            "</span>: its trace is in the ledger.</p>")


@dataclass(frozen=True)
class Passage:
    """A document's text split around the cited chunk (``found`` False if the chunk is
    not in this version: the document changed since the answer)."""

    before: str
    passage: str
    after: str
    found: bool


def passage_of(text: str, chunk: int, size: int, overlap: int) -> Passage:
    """The chunk at position ``chunk`` as ingest cut it (``sovra.data.chunking``)."""
    for piece in chunk_text(text, None, ChunkingConfig(size, overlap)):
        if piece.index == chunk:
            return Passage(text[:piece.start], text[piece.start:piece.end], text[piece.end:],
                           found=True)
    return Passage(text, "", "", found=False)


__all__ = ["MARK", "ChatPage", "Passage", "citations_html", "passage_of", "request_of",
           "stream_page"]
