"""Alerts to a SIEM: real syslog listeners on loopback (UDP and TCP), JSON lines, and a
STIX 2.1 Sighting that the stix2 library parses back."""

from __future__ import annotations

import io
import json
import re
import socket
import threading

import stix2

from sovra.threat.alerts import Alert
from sovra.threat.export import send_syslog, stix_sighting, write_json_lines

HEADER = re.compile(rb"^<(\d+)>1 \S+ (\S+) sovra - alert \[sovra@32473 ([^\]]*)\] \xef\xbb\xbf")


def alerts() -> list[Alert]:
    return [Alert(f"a{i}", "rule-1", f"Title {i} ] with \"quotes\"", sev, "open", None, i + 1,
                  1_790_000_000.0, 1_790_000_100.0, 1_790_000_200.0, {"group": {}}, None, None)
            for i, sev in enumerate(("high", "low"))]


def test_udp_syslog_reaches_a_real_listener() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        server.settimeout(10)
        sent = send_syslog(alerts(), "127.0.0.1", server.getsockname()[1], hostname="site-1")
        received = [server.recv(65536) for _ in range(sent)]
    assert sent == 2
    heads = [HEADER.match(m) for m in received]
    assert all(heads)
    assert [int(h.group(1)) for h in heads if h] == [83, 85]  # authpriv.err, authpriv.notice
    assert b'alert="a0"' in received[0] and received[0].endswith(
        b'Title 0 ] with "quotes"')


def test_tcp_syslog_is_octet_counted() -> None:
    chunks: list[bytes] = []
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        server.settimeout(10)

        def accept() -> None:
            conn, _ = server.accept()
            with conn:
                while data := conn.recv(65536):
                    chunks.append(data)

        thread = threading.Thread(target=accept)
        thread.start()
        send_syslog(alerts(), "127.0.0.1", server.getsockname()[1], protocol="tcp")
        thread.join(10)
    stream = b"".join(chunks)
    messages = []
    while stream:  # RFC 6587 §3.4.1: MSG-LEN SP SYSLOG-MSG
        length, _, rest = stream.partition(b" ")
        messages.append(rest[:int(length)])
        stream = rest[int(length):]
    assert len(messages) == 2 and all(HEADER.match(m) for m in messages)


def test_json_lines_and_stix_sighting() -> None:
    out = io.StringIO()
    assert write_json_lines(alerts(), out) == 2
    rows = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [r["id"] for r in rows] == ["a0", "a1"]
    sighting = stix_sighting(alerts()[1], "indicator--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e0002",
                             "identity--6f1c2a52-3c3e-4d0b-9b1a-5c2f8a7e00ff")
    parsed = stix2.parse(json.dumps(sighting), version="2.1")
    assert parsed.type == "sighting" and parsed.count == 2
