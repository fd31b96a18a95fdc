"""Notifications without the internet: on-site syslog, webhook, and a local SMTP relay.

Approvers learn of a request, a grant, a denial, a revocation, and above all of a
break-glass grant (an alert) through what a disconnected site already runs: a syslog
collector (RFC 5424 messages, over UDP or over TCP with RFC 6587 octet counting), an
on-site webhook, and e-mail through a local relay. Delivery happens on a worker thread
after the event is recorded and stored: a collector that is down delays or loses a
notice, never the grant or its ledger entry; each failure is logged and recorded.
"""

from __future__ import annotations

import json
import logging
import queue
import smtplib
import socket
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import urlsplit

import httpx

from sovra.errors import ConfigError

log = logging.getLogger(__name__)

# RFC 5424 §6.2.1: facility 10 is security/authorization (authpriv); severities 1 alert,
# 5 notice. Structured data uses the example enterprise number 32473 (RFC 5612).
_FACILITY = 10
ALERT, NOTICE = 1, 5
_SD_ID = "sovra@32473"
_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Notice:
    """One lockbox event for people: what happened, to which request, how urgent."""

    event: str
    request_id: str
    requester: str
    scope: str
    text: str
    severity: int = NOTICE
    details: Mapping[str, object] = field(default_factory=dict)


class Sink(Protocol):
    name: str

    def send(self, notice: Notice) -> None: ...


def _sd_value(value: str) -> str:
    # RFC 5424 §6.3.3: escape '"', '\' and ']' inside PARAM-VALUE.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_message(notice: Notice, *, hostname: str, now: datetime) -> bytes:
    """The RFC 5424 message for a notice (HEADER, STRUCTURED-DATA, UTF-8 MSG with BOM)."""
    pri = _FACILITY * 8 + notice.severity
    stamp = now.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    params = " ".join(f'{k}="{_sd_value(v)}"' for k, v in (
        ("event", notice.event), ("request", notice.request_id),
        ("requester", notice.requester), ("scope", notice.scope)))
    head = f"<{pri}>1 {stamp} {hostname or '-'} sovra - {notice.event} [{_SD_ID} {params}] "
    return head.encode("utf-8") + b"\xef\xbb\xbf" + notice.text.encode("utf-8")


class SyslogSink:
    """``udp://host:port`` or ``tcp://host:port`` (RFC 6587 octet counting on TCP)."""

    name = "syslog"

    def __init__(self, url: str, *, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
                 ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("udp", "tcp") or not parts.hostname or not parts.port:
            raise ConfigError(f"lockbox syslog target {url!r}: write udp://HOST:PORT or "
                              "tcp://HOST:PORT")
        self._transport, self._address = parts.scheme, (parts.hostname, parts.port)
        self._clock = clock
        self._hostname = socket.gethostname()

    def send(self, notice: Notice) -> None:
        message = syslog_message(notice, hostname=self._hostname, now=self._clock())
        if self._transport == "udp":
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                sock.sendto(message, self._address)
            return
        with socket.create_connection(self._address, timeout=_TIMEOUT_S) as sock:
            sock.sendall(str(len(message)).encode("ascii") + b" " + message)


class WebhookSink:
    """POST the notice as JSON to an on-site URL."""

    name = "webhook"

    def __init__(self, url: str) -> None:
        if urlsplit(url).scheme not in ("http", "https"):
            raise ConfigError(f"lockbox webhook {url!r}: use an http(s) URL on site")
        self._url = url

    def send(self, notice: Notice) -> None:
        body = {"event": notice.event, "request": notice.request_id,
                "requester": notice.requester, "scope": notice.scope, "text": notice.text,
                "severity": notice.severity, "details": dict(notice.details)}
        httpx.post(self._url, content=json.dumps(body, default=str),
                   headers={"Content-Type": "application/json"},
                   timeout=_TIMEOUT_S).raise_for_status()


class SmtpSink:
    """E-mail through a local SMTP relay (``host:port``), no authentication, no TLS."""

    name = "smtp"

    def __init__(self, relay: str, sender: str, recipients: list[str]) -> None:
        host, _, port = relay.rpartition(":")
        if not host or not port.isdigit() or not recipients:
            raise ConfigError(f"lockbox SMTP relay {relay!r}: write HOST:PORT and name at "
                              "least one recipient (SOVRA_LOCKBOX_MAIL_TO)")
        self._host, self._port = host, int(port)
        self._sender, self._recipients = sender, recipients

    def send(self, notice: Notice) -> None:
        mail = EmailMessage()
        urgent = "[ALERT] " if notice.severity <= ALERT else ""
        mail["Subject"] = f"{urgent}Sovra lockbox: {notice.event} {notice.request_id}"
        mail["From"] = self._sender
        mail["To"] = ", ".join(self._recipients)
        mail.set_content(f"{notice.text}\n\nrequest: {notice.request_id}\n"
                         f"requester: {notice.requester}\nscope: {notice.scope}\n")
        with smtplib.SMTP(self._host, self._port, timeout=_TIMEOUT_S) as smtp:
            smtp.send_message(mail)


class Notifier:
    """Delivers notices to every sink on one worker thread, in order."""

    def __init__(self, sinks: list[Sink], *,
                 on_failure: Callable[[Sink, Notice, Exception], None] | None = None) -> None:
        self.sinks = sinks
        self._on_failure = on_failure
        self._queue: queue.Queue[Notice | None] = queue.Queue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def __call__(self, notice: Notice) -> None:
        if not self.sinks:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="lockbox-notify",
                                                daemon=True)
                self._thread.start()
        self._queue.put(notice)

    def _run(self) -> None:
        while (notice := self._queue.get()) is not None:
            for sink in self.sinks:
                try:
                    sink.send(notice)
                except (OSError, httpx.HTTPError) as exc:  # one down must not stop the others
                    log.warning("lockbox %s notification of %s failed: %s", sink.name,
                                notice.request_id, exc)
                    if self._on_failure is not None:
                        self._on_failure(sink, notice, exc)
            self._queue.task_done()
        self._queue.task_done()

    def flush(self) -> None:
        """Wait until every queued notice was attempted."""
        if self._thread is not None:
            self._queue.join()

    def close(self) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(_TIMEOUT_S * 2)


__all__ = ["ALERT", "NOTICE", "Notice", "Notifier", "Sink", "SmtpSink", "SyslogSink",
           "WebhookSink", "syslog_message"]
