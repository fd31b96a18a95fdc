"""Notifications on site: RFC 5424 syslog over UDP and TCP, a webhook, and e-mail through
a real SMTP server (aiosmtpd) — every receiver a real socket on 127.0.0.1."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import UTC
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest
from aiosmtpd.controller import Controller

from sovra.errors import ConfigError
from sovra.instance import Instance
from sovra.lockbox import RequestSpec, Scope
from sovra.lockbox.notify import (
    ALERT,
    Notice,
    Notifier,
    SmtpSink,
    SyslogSink,
    WebhookSink,
    syslog_message,
)
from sovra.lockbox.service import LockboxService
from tests.lockbox.conftest import APPROVER_1, BREAKER, OPERATOR
from tests.support.clock import TEST_NOW

# RFC 5424 §6: <PRI>VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID SP SD
SYSLOG = re.compile(
    rb'^<(\d{1,3})>1 (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) (\S+) sovra - (\S+) '
    rb'\[sovra@32473 event="([^"]+)" request="([^"]+)" requester="([^"]+)" '
    rb'scope="([^"]+)"\] \xef\xbb\xbf(.*)$', re.S)


def test_the_syslog_message_follows_rfc_5424() -> None:
    notice = Notice("lockbox.breakglass", "ar-1", "bree", "collection:vault",
                    'opened "now"', severity=ALERT)
    message = syslog_message(notice, hostname="node-1", now=TEST_NOW)
    found = SYSLOG.match(message)
    assert found is not None, message
    assert int(found.group(1)) == 10 * 8 + 1  # authpriv.alert
    assert found.group(2).decode() == TEST_NOW.astimezone(UTC).isoformat(
        timespec="milliseconds").replace("+00:00", "Z")
    assert found.group(9) == b'opened "now"'


def test_structured_data_values_are_escaped() -> None:
    notice = Notice("lockbox.request", "ar-1", 'x"]\\y', "instance", "t")
    message = syslog_message(notice, hostname="h", now=TEST_NOW)
    assert b'requester="x\\"\\]\\\\y"' in message


@pytest.mark.parametrize("url", ["syslog://h:1", "udp://nohost", "tcp://:514"])
def test_malformed_syslog_targets_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match="udp://HOST:PORT"):
        SyslogSink(url)


@pytest.fixture
def udp() -> Iterator[socket.socket]:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.settimeout(10)
        yield sock


class _Tcp:
    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]

    def frame(self) -> bytes:
        """One RFC 6587 octet-counted frame: LENGTH SP MESSAGE."""
        conn, _ = self.sock.accept()
        with conn:
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
        length, _, message = data.partition(b" ")
        assert int(length) == len(message)
        return message


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append(json.loads(body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def webhook() -> Iterator[str]:
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/lockbox"
    server.shutdown()
    server.server_close()


class _Mailbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []

    async def handle_DATA(self, _server: object, _session: object, envelope: object) -> str:
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos),  # type: ignore[attr-defined]
                              envelope.content))  # type: ignore[attr-defined]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[_Mailbox, int]]:
    mailbox = _Mailbox()
    with socket.socket() as probe:  # aiosmtpd checks its own port, so name a free one
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield mailbox, port
    controller.stop()


def test_requests_and_breakglass_reach_syslog_webhook_and_mail(
        unsealed: Instance, box: LockboxService, udp: socket.socket, webhook: str,
        smtp: tuple[_Mailbox, int]) -> None:
    mailbox, smtp_port = smtp
    tcp = _Tcp()
    notifier = Notifier([
        SyslogSink(f"udp://127.0.0.1:{udp.getsockname()[1]}"),
        SyslogSink(f"tcp://127.0.0.1:{tcp.port}"),
        WebhookSink(webhook),
        SmtpSink(f"127.0.0.1:{smtp_port}", "lockbox@site.example", ["approvers@site.example"]),
    ])
    box.notifiers.append(notifier)
    tcp_frames: list[bytes] = []
    reader = threading.Thread(target=lambda: tcp_frames.extend([tcp.frame(), tcp.frame()]))
    reader.start()
    try:
        asked = box.request(OPERATOR, RequestSpec(Scope.parse("collection:notes"),
                                                  ("documents.read",), "INC-3"))
        box.approve(APPROVER_1, asked.id)  # internal: one approval opens the grant
        notifier.flush()
        glass = box.breakglass(BREAKER, RequestSpec(Scope.parse("instance"), ("keys.status",),
                                                    "P1 outage"))
        notifier.flush()
        reader.join(20)
    finally:
        notifier.close()
        tcp.sock.close()

    events = [SYSLOG.match(udp.recv(65536)) for _ in range(3)]
    assert [(m.group(4), m.group(6).decode()) for m in events if m] == [
        (b"lockbox.request", asked.id), (b"lockbox.approve", asked.id),
        (b"lockbox.breakglass", glass.id)]
    assert [int(m.group(1)) for m in events if m] == [85, 85, 81]  # notice, notice, alert
    assert len(tcp_frames) == 2 and all(SYSLOG.match(f) for f in tcp_frames)
    assert [h["event"] for h in _Hook.received] == [
        "lockbox.request", "lockbox.approve", "lockbox.breakglass"]
    assert _Hook.received[2]["severity"] == ALERT
    subjects = [re.search(rb"Subject: (.*)\r?\n", m[2]).group(1)  # type: ignore[union-attr]
                for m in mailbox.messages]
    assert subjects[2].startswith(b"[ALERT] Sovra lockbox: lockbox.breakglass")
    assert mailbox.messages[0][1] == ["approvers@site.example"]


def test_a_collector_that_is_down_loses_the_notice_not_the_grant(
        unsealed: Instance, box: LockboxService) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    failures: list[str] = []
    notifier = Notifier([SyslogSink(f"tcp://127.0.0.1:{dead}")],
                        on_failure=lambda sink, notice, exc: failures.append(notice.event))
    box.notifiers.append(notifier)
    asked = box.request(OPERATOR, RequestSpec(Scope.parse("collection:notes"),
                                              ("documents.read",), "INC-4"))
    notifier.flush()
    notifier.close()
    assert failures == ["lockbox.request"]
    assert box.get(asked.id).id == asked.id


def test_settings_name_the_sinks() -> None:
    from sovra.config import load_settings
    from sovra.lockbox.setup import sinks_from

    settings = load_settings(lockbox_syslog="udp://127.0.0.1:514",
                             lockbox_webhook_url="http://10.0.0.2/hook",
                             lockbox_smtp_relay="127.0.0.1:25",
                             lockbox_mail_to=["sec@site.example"])
    assert [s.name for s in sinks_from(settings)] == ["syslog", "webhook", "smtp"]
    with pytest.raises(ConfigError, match="recipient"):
        sinks_from(load_settings(lockbox_smtp_relay="127.0.0.1:25"))


def test_closing_the_lockbox_delivers_what_is_queued(unsealed: Instance, box: LockboxService,
                                                     udp: socket.socket) -> None:
    box.notifiers.append(Notifier([SyslogSink(f"udp://127.0.0.1:{udp.getsockname()[1]}")]))
    glass = box.breakglass(BREAKER, RequestSpec(Scope.parse("instance"), ("keys.status",),
                                                "P1"))
    box.close()
    found = SYSLOG.match(udp.recv(65536))
    assert found is not None and found.group(6).decode() == glass.id
