"""Request ids and structured JSON logs (issue 22, "Operations").

Every HTTP request gets an id: the caller's ``X-Request-ID`` if it is a plain token
(letters, digits, ``.``, ``_``, ``-``, ``:``; at most 128), else a fresh one, so a proxy's
id flows through but nothing a client sends can forge a log line. The id is echoed in the
response's ``X-Request-ID`` and carried, through a context variable, by every log record
written while the request runs (worker threads included: Starlette copies the context
into them).

``JsonFormatter`` writes one JSON object per line. It writes the message, the level,
the logger, the request id and a fixed set of fields; tracebacks are written as frames
only, without the exception's message, because a message may quote a value from the
request. No request or answer body is ever read here, so no prompt or document text
reaches a log line from this module (``tests/cluster/test_request_log.py`` scans the
log of a real chat for a marker string).

An access line per request (logger ``sovra.access``) is written only when that logger
is enabled for INFO (``SOVRA_ACCESS_LOG=1`` with ``sovra up``): the ledger already records
every request, and a line per request costs the chat hot path (ADR 0606).
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import time
import traceback
import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "sovra_request_id", default=None)

HEADER = "x-request-id"
_VALID_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
# Fields a record may carry besides its message (set with ``extra=``); anything else
# on a record is left out, so a careless ``extra`` cannot leak a body into the log.
_FIELDS = ("method", "route", "status", "duration_ms", "ai_request_id")
# Paths the chat hot path answers before routing (ADR 0606): fixed, hold no ids.
_UNROUTED = frozenset({"/v1/chat/completions", "/v1/completions", "/v1/embeddings",
                       "/v1/models"})

access_log = logging.getLogger("sovra.access")


def accept_request_id(value: str | None) -> str:
    """The caller's id if it is a plain token, else a new random one."""
    if value is not None and _VALID_ID.fullmatch(value):
        return value
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Pure ASGI, outermost: sets the id for everything inside, echoes it, and writes
    the access line (route template, never the concrete path) when enabled."""

    def __init__(self, app: ASGIApp) -> None:
        self._app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        sent = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                sent = value.decode("latin-1")
                break
        request_id = accept_request_id(sent)
        token = REQUEST_ID.set(request_id)
        started = time.perf_counter()
        status = 500

        ai_request_id: str | None = None

        async def sending(message: Message) -> None:
            nonlocal status, ai_request_id
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", []))
                inner = [v for k, v in headers if k.lower() == b"x-request-id"]
                if inner:
                    # The AI gateway names a chat by its completion id (chatcmpl-...),
                    # the id its ledger entries and `sovra ai trace` use. A caller that
                    # sent its own id gets that back; one that did not keeps the
                    # gateway's, and the access line carries both.
                    ai_request_id = inner[0].decode("latin-1")
                    if sent is not None:
                        headers = [(k, v) for k, v in headers
                                   if k.lower() != b"x-request-id"]
                if sent is not None or not inner:
                    headers.append((b"x-request-id", request_id.encode("ascii")))
                message["headers"] = headers
            await send(message)

        try:
            await self._app(scope, receive, sending)
        finally:
            if access_log.isEnabledFor(logging.INFO):
                route = getattr(scope.get("route"), "path", None)
                access_log.info("request", extra={
                    "method": scope["method"], "route": route or _unrouted(scope),
                    "ai_request_id": ai_request_id,
                    "status": status,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 3)})
            REQUEST_ID.reset(token)


def _unrouted(scope: Scope) -> str:
    path = str(scope["path"])
    return path if path in _UNROUTED else "unmatched"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, message, request_id, fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": REQUEST_ID.get(),
        }
        for name in _FIELDS:
            if record.__dict__.get(name) is not None:
                entry[name] = record.__dict__[name]
        if record.exc_info and record.exc_info[0] is not None:
            entry["exc_type"] = record.exc_info[0].__name__
            entry["traceback"] = "".join(traceback.format_tb(record.exc_info[2]))
        return json.dumps(entry, default=str, ensure_ascii=False)


def json_log_config(level: str = "INFO", *, access: bool = False) -> dict[str, Any]:
    """A ``logging.config.dictConfig`` (and uvicorn ``log_config``) writing JSON lines to
    stderr for Sovra's and uvicorn's loggers; uvicorn's own access log stays off."""
    handler = {"class": "logging.StreamHandler", "formatter": "json",
               "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"json": handler},
        "root": {"handlers": ["json"], "level": level},
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
            "sovra.access": {"handlers": [], "propagate": True,
                             "level": "INFO" if access else "WARNING"},
        },
    }


__all__ = ["HEADER", "REQUEST_ID", "JsonFormatter", "RequestIdMiddleware",
           "accept_request_id", "json_log_config"]
