"""An OpenAI-compatible upstream (vLLM, Ollama, a llama.cpp server) on the organisation's
network.

Connections are pooled per upstream (``Http1Client``), so the hot path pays no
handshake. Failures that provably did not reach the model — connection refused or reset
before any answer byte, 502/503/504 — are retried a bounded number of times with a short
backoff; a timeout is a hung upstream and is reported, not retried. Anything that is not
the OpenAI shape is garbage and becomes ``UpstreamError``; the upstream's own text never
reaches our caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

from sovra.ai.backends.base import Completion, estimate_tokens
from sovra.ai.backends.http1 import (
    Http1Client,
    Response,
    UpstreamConnectError,
    UpstreamProtocolError,
    UpstreamTimeoutError,
)
from sovra.ai.compact_json import compact_json
from sovra.ai.models import ChatMessage, Delta, GenerationParams, Usage
from sovra.errors import UpstreamError, UpstreamUnavailableError

_RETRY_STATUS = frozenset({502, 503, 504})


class UpstreamBackend:
    def __init__(self, client: Http1Client, upstream_model: str, *, retries: int = 2,
                 backoff_s: float = 0.05) -> None:
        self._client = client
        self._model = upstream_model
        self._retries = retries
        self._backoff_s = backoff_s

    def _body(self, messages: Sequence[ChatMessage], params: GenerationParams, *,
              stream: bool) -> bytes:
        body: dict[str, Any] = {
            "model": self._model, "stream": stream, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p,
            "messages": [{"role": m.role, "content": m.content} for m in messages]}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return compact_json(body)

    async def _send(self, body: bytes, *, stream: bool) -> Response:
        """Send with bounded retries; the caller reads (and so releases) the response."""
        accept = "text/event-stream" if stream else "application/json"
        attempt = 0
        while True:
            try:
                response = await self._client.post("/chat/completions", body, accept=accept)
            except UpstreamConnectError as exc:
                if attempt >= self._retries:  # nothing was answered: safe to try again
                    # Down, not broken: a 503 the client may retry (issue 17).
                    raise UpstreamUnavailableError(f"upstream unreachable: {exc}") from exc
            except UpstreamTimeoutError as exc:
                raise UpstreamError("upstream timed out (no answer)") from exc
            except UpstreamProtocolError as exc:
                raise UpstreamError("upstream returned a malformed response") from exc
            else:
                if response.status < 400:
                    return response
                response.release()
                if response.status not in _RETRY_STATUS or attempt >= self._retries:
                    raise UpstreamError(f"upstream answered HTTP {response.status}")
            attempt += 1
            await asyncio.sleep(self._backoff_s * attempt)

    async def complete(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        response = await self._send(self._body(messages, params, stream=False), stream=False)
        try:
            raw = await response.read()
        except UpstreamTimeoutError as exc:
            raise UpstreamError("upstream timed out mid-answer") from exc
        except UpstreamProtocolError as exc:
            raise UpstreamError("upstream returned a malformed completion") from exc
        try:
            data = json.loads(raw)
            choice = data["choices"][0]
            text = choice["message"]["content"]
            usage = data.get("usage") or {}
            prompt = int(usage.get("prompt_tokens") or 0)
            completion = int(usage.get("completion_tokens") or estimate_tokens(str(text)))
            reason = str(choice.get("finish_reason") or "stop")
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise UpstreamError("upstream returned a malformed completion") from exc
        if not isinstance(text, str):
            raise UpstreamError("upstream returned a completion without text content")
        return Completion(text, reason, Usage(prompt, completion))

    async def stream(self, messages: Sequence[ChatMessage],
                     params: GenerationParams) -> AsyncGenerator[Delta, None]:
        response = await self._send(self._body(messages, params, stream=True), stream=True)
        produced = 0
        finish: str | None = None
        try:
            async for line in _lines(response.iter_body()):
                if not line.startswith(b"data:"):
                    continue  # SSE comments, keep-alives, event names
                payload = line[5:].strip()
                if payload == b"[DONE]":
                    break
                delta, reason = _parse_chunk(payload)
                if delta:
                    produced += 1
                    yield Delta(text=delta)
                finish = reason or finish
        except UpstreamTimeoutError as exc:
            raise UpstreamError("upstream stopped sending (timed out mid-stream)") from exc
        except UpstreamProtocolError as exc:
            raise UpstreamError("upstream stream broke off") from exc
        finally:
            response.release()
        if finish is None:
            raise UpstreamError("upstream stream ended without a finish reason")
        yield Delta(finish_reason=finish, completion_tokens=produced)

    async def aclose(self) -> None:
        await self._client.aclose()


async def _lines(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Split a byte stream into lines (SSE, WHATWG HTML §9.2.6: CRLF, LF or CR)."""
    pending = b""
    async for chunk in chunks:
        pending += chunk
        *lines, pending = pending.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        for line in lines:
            yield line
    if pending:
        yield pending


def _parse_chunk(payload: bytes) -> tuple[str, str | None]:
    try:
        data = json.loads(payload)
        choices = data["choices"]
        choice = choices[0] if choices else {}  # no choices: a usage-only chunk
        content = (choice.get("delta") or {}).get("content") or ""
        reason = choice.get("finish_reason")
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise UpstreamError("upstream sent a malformed stream chunk") from exc
    if not isinstance(content, str) or not (reason is None or isinstance(reason, str)):
        raise UpstreamError("upstream sent a stream chunk with wrong types")
    return content, reason
