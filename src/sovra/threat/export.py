"""Alerts out to an on-site SIEM: RFC 5424 syslog (UDP, TCP), JSON lines, STIX Sighting.

The formatting is pure; ``send_syslog`` does the one socket write. Over TCP each message
is framed by octet counting (RFC 6587 §3.4.1), so a message may contain any byte.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import IO, Any

from sovra.errors import InvalidInputError
from sovra.threat.alerts import Alert

# RFC 5424 §6.2.1: facility 10 is security/authorization (authpriv).
FACILITY = 10
SEVERITY_CODES = {"critical": 2, "high": 3, "medium": 4, "low": 5, "informational": 6}
# RFC 5424 §7.2.2 SD-ID name@<private enterprise number>; 32473 is the PEN RFC 5612
# reserves for documentation, to be replaced by a site's own number.
SD_ID = "sovra@32473"


def _sd_escape(value: str) -> str:
    # RFC 5424 §6.3.3: '"', '\' and ']' are escaped inside PARAM-VALUE.
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def syslog_message(alert: Alert, *, hostname: str = "-", now: datetime | None = None) -> bytes:
    """One RFC 5424 message for ``alert`` (§6: HEADER SP STRUCTURED-DATA SP MSG)."""
    pri = FACILITY * 8 + SEVERITY_CODES.get(alert.severity, 4)
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    params = {"alert": alert.id, "rule": alert.rule_id, "severity": alert.severity,
              "status": alert.status, "count": str(alert.count)}
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
    host = hostname.replace(" ", "")[:255] or "-"
    # MSG is UTF-8 with a BOM (§6.4), so the receiver knows its encoding.
    return (f"<{pri}>1 {stamp} {host} sovra - alert {sd} ".encode()
            + b"\xef\xbb\xbf" + alert.title.encode("utf-8"))


def send_syslog(alerts: Iterable[Alert], host: str, port: int, *, protocol: str = "udp",
                timeout_s: float = 5.0, hostname: str = "-") -> int:
    """Send each alert to a syslog receiver; how many were sent."""
    if protocol not in ("udp", "tcp"):
        raise InvalidInputError(f"syslog protocol {protocol!r}: use udp or tcp")
    messages = [syslog_message(a, hostname=hostname) for a in alerts]
    if protocol == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            for message in messages:
                sock.sendto(message, (host, port))
    else:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.sendall(b"".join(b"%d " % len(m) + m for m in messages))
    return len(messages)


def write_json_lines(alerts: Iterable[Alert], out: IO[str]) -> int:
    count = 0
    for alert in alerts:
        out.write(json.dumps(alert.as_dict(), sort_keys=True, separators=(",", ":")) + "\n")
        count += 1
    return count


def stix_sighting(alert: Alert, indicator_id: str, identity_id: str) -> dict[str, Any]:
    """A STIX 2.1 Sighting (§4.3 of the spec's SRO section) of ``indicator_id``."""
    import stix2

    sighting = stix2.v21.Sighting(
        sighting_of_ref=indicator_id, count=max(1, alert.count),
        first_seen=datetime.fromtimestamp(alert.first_seen, UTC),
        last_seen=datetime.fromtimestamp(max(alert.last_seen, alert.first_seen), UTC),
        where_sighted_refs=[identity_id], description=alert.title)
    return dict(json.loads(sighting.serialize()))


__all__ = ["send_syslog", "stix_sighting", "syslog_message", "write_json_lines"]
