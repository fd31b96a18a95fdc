"""A lean, pooled HTTP/1.1 client for one upstream origin (asyncio + httptools).

Why not httpx: measured on the gateway's hot path (docs/adr/0602), httpx/httpcore took
about half of the event loop's CPU per proxied request (pool bookkeeping, anyio socket
attribute lookups, a readability poll per idle connection per request). An upstream
model server is one origin speaking plain HTTP/1.1 with JSON bodies, so this client does
exactly that: keep-alive connections in a LIFO pool, llhttp (httptools, the parser
uvicorn uses) for responses — Content-Length, chunked and close-delimited bodies — and
per-phase timeouts. TLS is supported for https upstreams; proxies and redirects are not
(an on-premises model server needs neither, and following redirects would let an
upstream send our prompts elsewhere).
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httptools

_READ = 65536


class UpstreamConnectError(ConnectionError):
    """The request never reached the upstream (safe to retry)."""


class UpstreamTimeoutError(TimeoutError):
    """The upstream accepted the request but did not answer in time."""


class UpstreamProtocolError(ConnectionError):
    """The upstream's bytes are not HTTP/1.1 (garbage, or the connection broke)."""


@dataclass
class _Sink:
    """httptools callbacks collect the response here."""

    status: int = 0
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: list[bytes] = field(default_factory=list)
    headers_done: bool = False
    complete: bool = False
    keep_alive: bool = False
    received: bool = False
    parser: httptools.HttpResponseParser | None = None

    def on_header(self, name: bytes, value: bytes) -> None:
        self.headers.append((name.lower(), value))

    def on_headers_complete(self) -> None:
        self.headers_done = True
        # llhttp answers this only inside a callback; after the message it resets.
        self.keep_alive = self.parser is not None and self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.used = False

    def close(self) -> None:
        self.writer.close()


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = 2.0
    read_s: float = 60.0  # between bytes of the answer (a hung upstream)


class Response:
    """An upstream response whose body is read on demand (``read`` or ``iter_body``)."""

    def __init__(self, client: Http1Client, conn: _Connection, sink: _Sink,
                 parser: httptools.HttpResponseParser) -> None:
        self._client = client
        self._conn: _Connection | None = conn
        self._sink = sink
        self._parser = parser
        self.status = sink.status

    async def _more(self) -> bool:
        """Feed the parser once; False when the message is complete."""
        if self._sink.complete:
            return False
        conn = self._conn
        if conn is None:
            raise UpstreamProtocolError("response already closed")
        try:
            async with asyncio.timeout(self._client.timeouts.read_s):
                data = await conn.reader.read(_READ)
        except TimeoutError as exc:
            raise UpstreamTimeoutError("upstream stopped sending") from exc
        except OSError as exc:
            raise UpstreamProtocolError(f"connection failed: {exc}") from exc
        try:
            if not data:
                self._parser.feed_data(b"")  # EOF ends a close-delimited body
                if not self._sink.complete:
                    raise UpstreamProtocolError("connection closed mid-response")
                return False
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            raise UpstreamProtocolError(f"malformed HTTP from upstream: {exc}") from exc
        return True

    async def read(self) -> bytes:
        try:
            while await self._more():
                pass
            return b"".join(self._sink.body)
        finally:
            self.release()

    async def iter_body(self) -> AsyncIterator[bytes]:
        try:
            while True:
                if self._sink.body:
                    pieces, self._sink.body = self._sink.body, []
                    for piece in pieces:
                        yield piece
                if not await self._more() and not self._sink.body:
                    return
        finally:
            self.release()

    def release(self) -> None:
        """Return a fully read keep-alive connection to the pool; close anything else."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._sink.complete and self._sink.keep_alive:
            self._client.give_back(conn)
        else:
            conn.close()


class Http1Client:
    """Keep-alive connections to one origin (``http://host:port`` or ``https://...``)."""

    def __init__(self, base_url: str, *, timeouts: Timeouts | None = None,
                 max_idle: int = 256, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"upstream URL must be http(s)://host[:port][/path]: {base_url}")
        self.host = parts.hostname
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.base_path = parts.path.rstrip("/")
        self.ssl: ssl.SSLContext | None = (
            ssl.create_default_context() if parts.scheme == "https" else None)
        self.timeouts = timeouts or Timeouts()
        self._idle: list[_Connection] = []
        self._max_idle = max_idle
        default_port = self.port == (443 if self.ssl else 80)
        host = self.host if default_port else f"{self.host}:{self.port}"
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._head_tail = f"host: {host}\r\n{extra}".encode()

    async def _connect(self) -> _Connection:
        try:
            async with asyncio.timeout(self.timeouts.connect_s):
                reader, writer = await asyncio.open_connection(
                    self.host, self.port, ssl=self.ssl, limit=1 << 20)
        except (OSError, TimeoutError) as exc:
            raise UpstreamConnectError(f"cannot connect to {self.host}:{self.port}: "
                                       f"{type(exc).__name__}") from exc
        return _Connection(reader, writer)

    def give_back(self, conn: _Connection) -> None:
        conn.used = True
        if len(self._idle) < self._max_idle and not conn.writer.is_closing():
            self._idle.append(conn)
        else:
            conn.close()

    async def post(self, path: str, body: bytes, *, accept: str = "application/json"
                   ) -> Response:
        """Send a POST and read the status and headers; the caller reads the body.

        A reused keep-alive connection the upstream closed meanwhile fails before any
        answer byte; that request is sent again once on a fresh connection.
        """
        head = (f"POST {self.base_path}{path} HTTP/1.1\r\n".encode() + self._head_tail +
                f"content-type: application/json\r\naccept: {accept}\r\n"
                f"content-length: {len(body)}\r\n\r\n".encode())
        return await self._send(head + body)

    async def get(self, path: str, *, accept: str = "application/json") -> Response:
        """Send a GET (health probes: ``/models``); the caller reads the body."""
        head = (f"GET {self.base_path}{path} HTTP/1.1\r\n".encode() + self._head_tail +
                f"accept: {accept}\r\n\r\n".encode())
        return await self._send(head)

    async def _send(self, payload: bytes) -> Response:
        while self._idle:
            conn = self._idle.pop()
            try:
                return await self._exchange(conn, payload)
            except _StaleConnectionError:
                continue  # the upstream closed an idle connection: try the next one
        return await self._exchange(await self._connect(), payload)

    async def _exchange(self, conn: _Connection, payload: bytes) -> Response:
        sink = _Sink()
        parser = httptools.HttpResponseParser(sink)
        sink.parser = parser
        try:
            conn.writer.write(payload)
            async with asyncio.timeout(self.timeouts.read_s):
                await _read_head(conn.reader, parser, sink)
        except TimeoutError as exc:  # before OSError: TimeoutError is one
            conn.close()
            raise UpstreamTimeoutError("upstream did not answer in time") from exc
        except OSError as exc:
            conn.close()
            received = sink.received
            if conn.used and not received:
                raise _StaleConnectionError from exc
            if not received:
                raise UpstreamConnectError(f"upstream closed the connection: {exc}") from exc
            raise UpstreamProtocolError(f"connection failed mid-answer: {exc}") from exc
        except httptools.HttpParserError as exc:
            conn.close()
            raise UpstreamProtocolError(f"malformed HTTP from upstream: {exc}") from exc
        except BaseException:
            conn.close()  # cancelled (the client went away): never reuse a half-read socket
            raise
        sink.status = parser.get_status_code()
        return Response(self, conn, sink, parser)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
            with contextlib.suppress(Exception):
                await conn.writer.wait_closed()


async def _read_head(reader: asyncio.StreamReader, parser: httptools.HttpResponseParser,
                     sink: _Sink) -> None:
    while not sink.headers_done:
        data = await reader.read(_READ)
        if not data:
            raise ConnectionResetError("the upstream closed the connection before answering")
        sink.received = True
        parser.feed_data(data)


class _StaleConnectionError(Exception):
    """Internal: an idle keep-alive connection turned out to be closed."""
