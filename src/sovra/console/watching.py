"""A supervised grant watched live from the console: the page streams one line per
decision made under the grant, as ``GET /lockbox/grants/{id}/events`` does, and holds a
*Terminate* button (``lockbox.revoke``) above the stream. Streamed HTML, no script: the
page keeps loading while the watch lasts, and leaving it ends the watch (the grant is
then unwatched, so supervised use stops, as with ``sovra access watch``)."""

from __future__ import annotations

import html
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from sovra.lockbox import LockboxService, State, Watch

MARK = "<!--events-->"
_PAD = b" " * 1024  # a first chunk large enough for the browser to paint the page


def _line(data: dict[str, object]) -> str:
    at = data.get("at")
    when = (datetime.fromtimestamp(float(at), UTC).strftime("%H:%M:%S")
            if isinstance(at, int | float) else "")
    return (f"<li><span class=\"mono\">{when}</span> {html.escape(str(data.get('principal')))}"
            f" {html.escape(str(data.get('action')))} on "
            f"{html.escape(str(data.get('resource')))}: "
            f"<strong>{html.escape(str(data.get('outcome')))}</strong></li>\n")


async def stream_watch(lockbox: LockboxService, watch: Watch, page: str, request: Request
                       ) -> AsyncIterator[bytes]:
    head, tail = page.split(MARK, 1)
    try:
        yield head.encode() + _PAD
        while True:
            event = await run_in_threadpool(watch.get, 1.0)
            if event is not None and event.kind == "decision":
                yield _line(event.data).encode()
                continue
            if await request.is_disconnected():
                return
            found = await run_in_threadpool(lockbox.get, watch.grant_id)
            state = lockbox.state(found)
            if (event is not None and event.kind == "ended") or state not in (
                    State.PENDING, State.ACTIVE):
                yield (f'</ol><p id="ended" class="flash" role="status">The grant ended: '
                       f"{html.escape(state.value)}.</p><ol>").encode()
                break
            yield b"\n"  # keeps the connection, and notices a browser that left
        yield tail.encode()
    finally:
        watch.close()


__all__ = ["MARK", "stream_watch"]
