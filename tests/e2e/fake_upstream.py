"""FakeUpstream: an OpenAI-compatible model server on loopback, for what cannot run here.

A remote model server (vLLM, a provider) is the one part of the gateway's world that
cannot run in the test environment, so this stands in for it. It is a minimal HTTP/1.1
keep-alive server on raw asyncio (so as a benchmark baseline it is as close to "instant"
as Python gets). The requested model name selects the behaviour:

* ``fake-instant`` (or anything else): a fixed completion, or a short SSE stream;
* ``fake-hang``: reads the request and never answers;
* ``fake-garbage``: 200 with a body that is not JSON (or a stream of junk);
* ``fake-not-http``: bytes that are not HTTP at all;
* ``fake-flaky``: every other request answers 503 first (retries must hide it).

Run standalone: ``python tests/e2e/fake_upstream.py --port 9000``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator

ANSWER = "The fake upstream answers instantly."


def _completion(model: str, answer: str = ANSWER) -> bytes:
    return json.dumps({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
        "choices": [{"index": 0, "finish_reason": "stop",
                     "message": {"role": "assistant", "content": answer}}],
        "usage": {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}}).encode()


def _stream(model: str) -> bytes:
    events = []
    for word in ANSWER.split(" "):
        chunk = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
                 "model": model, "choices": [{"index": 0, "delta": {"content": word + " "},
                                              "finish_reason": None}]}
        events.append(b"data: " + json.dumps(chunk).encode() + b"\n\n")
    last = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": model, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    events.append(b"data: " + json.dumps(last).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    return b"".join(events)


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "X")
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: {content_type}\r\n"
            f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n")
    return head.encode() + body


class FakeUpstream:
    def __init__(self) -> None:
        self.requests = 0
        self.connections = 0
        self.last_body: dict[str, object] = {}
        # model -> the fixed completion it answers instead of ANSWER (not streamed).
        self.answers: dict[str, str] = {}
        self._flaky = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(self._serve, host, port, backlog=4096)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._handlers.add(task)
            task.add_done_callback(self._handlers.discard)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body = await reader.readexactly(length) if length else b""
                self.requests += 1
                answer = await self._answer(head.split(b" ", 2)[1], body)
                if answer is None:
                    with contextlib.suppress(asyncio.CancelledError):
                        await asyncio.sleep(3600)  # fake-hang: until the server stops
                    return
                writer.write(answer)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, path: bytes, body: bytes) -> bytes | None:
        if path.endswith(b"/models"):
            return _response(200, b'{"object":"list","data":[{"id":"fake-instant",'
                                  b'"object":"model","created":0,"owned_by":"fake"}]}')
        if not path.endswith(b"/chat/completions"):
            return _response(404, b'{"error":{"message":"not found"}}')
        request = json.loads(body or b"{}")
        self.last_body = request
        model = str(request.get("model", "fake-instant"))
        stream = bool(request.get("stream"))
        if model == "fake-hang":
            return None
        if model == "fake-not-http":
            return b"SSH-2.0-OpenSSH_9.6\r\n\r\n"
        if model == "fake-garbage":
            if stream:
                return _response(200, b"data: {not json at all\n\n", "text/event-stream")
            return _response(200, b"<html>definitely not json</html>")
        if model == "fake-flaky":
            self._flaky += 1
            if self._flaky % 2 == 1:
                return _response(503, b'{"error":{"message":"warming up"}}')
        if stream:
            return _response(200, _stream(model), "text/event-stream")
        return _response(200, _completion(model, self.answers.get(model, ANSWER)))


@contextlib.contextmanager
def running_fake_upstream() -> Iterator[FakeUpstream]:
    """Run a FakeUpstream on its own event loop in a thread (for synchronous tests)."""
    fake = FakeUpstream()
    loop = asyncio.new_event_loop()
    started = threading.Event()

    def main() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(fake.start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    started.wait(10)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(5)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()

    async def run() -> None:
        fake = FakeUpstream()
        port = await fake.start(port=args.port)
        print(f"PORT {port}", flush=True)
        await asyncio.Event().wait()

    with contextlib.suppress(KeyboardInterrupt):
        try:
            import uvloop
            uvloop.run(run())
        except ImportError:
            asyncio.run(run())


if __name__ == "__main__":
    main()
