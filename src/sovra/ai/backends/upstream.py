"""An OpenAI-compatible upstream (vLLM, Ollama, a llama.cpp server) over httpx.

One pooled ``httpx.AsyncClient`` per gateway is shared by every upstream model, so
connections are reused (the hot path pays no handshake). Failures that provably did
not reach the model — connection refused/reset before a response, 502/503/504 — are
retried a bounded number of times with a short backoff; a read timeout is a hung
upstream and is reported, not retried. Anything that is not the OpenAI shape is garbage
and becomes ``UpstreamError``; the upstream's own text never reaches our caller.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Sequence
from typing import Any

import httpx

from sovra.ai.backends.base import Completion, estimate_tokens
from sovra.ai.models import ChatMessage, Delta, GenerationParams, Usage
from sovra.errors import UpstreamError

_RETRY_STATUS = frozenset({502, 503, 504})


def make_client(*, connect_s: float = 2.0, read_s: float = 60.0,
                max_connections: int = 512) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=httpx.Timeout(connect=connect_s, read=read_s, write=10.0, pool=5.0),
        limits=httpx.Limits(max_connections=max_connections,
                            max_keepalive_connections=max_connections),
        follow_redirects=False)


class UpstreamBackend:
    def __init__(self, client: httpx.AsyncClient, base_url: str, upstream_model: str, *,
                 api_key: str | None = None, retries: int = 2,
                 backoff_s: float = 0.05) -> None:
        self._client = client
        self._url = base_url.rstrip("/") + "/chat/completions"
        self._model = upstream_model
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._retries = retries
        self._backoff_s = backoff_s

    def _body(self, messages: Sequence[ChatMessage], params: GenerationParams, *,
              stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self._model, "stream": stream, "max_tokens": params.max_tokens,
            "temperature": params.temperature, "top_p": params.top_p,
            "messages": [{"role": m.role, "content": m.content} for m in messages]}
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        return body

    async def _send(self, body: dict[str, Any], *, stream: bool) -> httpx.Response:
        """Send with bounded retries; the caller closes the returned response."""
        attempt = 0
        while True:
            try:
                request = self._client.build_request("POST", self._url, json=body,
                                                     headers=self._headers)
                response = await self._client.send(request, stream=stream)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.RemoteProtocolError) as exc:
                # Nothing was answered: safe to try again.
                if attempt >= self._retries:
                    raise UpstreamError(f"upstream unreachable: {type(exc).__name__}") from exc
            except httpx.TimeoutException as exc:
                raise UpstreamError(f"upstream timed out ({type(exc).__name__})") from exc
            except httpx.HTTPError as exc:
                raise UpstreamError(f"upstream failed: {type(exc).__name__}") from exc
            else:
                if response.status_code < 400:
                    return response
                await response.aclose()
                if response.status_code not in _RETRY_STATUS or attempt >= self._retries:
                    raise UpstreamError(f"upstream answered HTTP {response.status_code}")
            attempt += 1
            await asyncio.sleep(self._backoff_s * attempt)

    async def complete(self, messages: Sequence[ChatMessage],
                       params: GenerationParams) -> Completion:
        response = await self._send(self._body(messages, params, stream=False),
                                    stream=False)
        try:
            data = response.json()
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
            async for line in response.aiter_lines():
                if not line.startswith("data:"):
                    continue  # SSE comments, keep-alives and blank separators
                payload = line[5:].strip()
                if payload == "[DONE]":
                    break
                delta, reason = _parse_chunk(payload)
                if delta:
                    produced += 1
                    yield Delta(text=delta)
                finish = reason or finish
        except httpx.TimeoutException as exc:
            raise UpstreamError("upstream stopped sending (timed out mid-stream)") from exc
        except httpx.HTTPError as exc:
            raise UpstreamError(f"upstream stream failed: {type(exc).__name__}") from exc
        finally:
            await response.aclose()
        if finish is None:
            raise UpstreamError("upstream stream ended without a finish reason")
        yield Delta(finish_reason=finish, completion_tokens=produced)

    async def aclose(self) -> None:
        """The shared client belongs to the gateway, which closes it."""


def _parse_chunk(payload: str) -> tuple[str, str | None]:
    try:
        data = json.loads(payload)
        choices = data["choices"]
        choice = choices[0] if choices else {}  # no choices: a usage-only chunk
        content = (choice.get("delta") or {}).get("content") or ""
        reason = choice.get("finish_reason")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UpstreamError("upstream sent a malformed stream chunk") from exc
    if not isinstance(content, str) or not (reason is None or isinstance(reason, str)):
        raise UpstreamError("upstream sent a stream chunk with wrong types")
    return content, reason
