"""The client's own description of itself, bounded, for the decision entries (issue 18).

The threat room projects two detail keys of every ledger entry into its events,
``user_agent`` and ``domain`` (``sovra.threat.events.project``), and matches them
against the user-agent and domain indicators of its packs. These are the only request
metadata recorded besides the client address: never a header's whole value set, never a
prompt or a document, only what identifies the client software and the page it came
from.

Both are hostile input (ADR 0002): a client chooses them freely. So the user agent is
kept only as printable ASCII (anything else is replaced by ``?``, so a NUL or a newline
cannot reach a log line or a SIEM export) and cut at 256 characters, the width the
threat room keeps; the ``Origin`` header is reduced to its host name, lower case,
kept only if it is a syntactically valid DNS name or address (at most 253 characters).
A header that is absent, empty or unusable records nothing.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

USER_AGENT_MAX = 256
DOMAIN_MAX = 253
# Printable ASCII: a user agent is a product token list (RFC 9110 §10.1.5), ASCII.
_UNPRINTABLE = re.compile(r"[^\x20-\x7e]")
# A host name (letters, digits, hyphens, dots) or an IPv6 literal's characters.
_HOST = re.compile(r"^[a-z0-9._:-]{1,253}$")
# The keys the threat room projects (sovra.threat.events); compared away when a test
# sets the route's decision entry beside PolicyService.require's, which has no request.
CLIENT_KEYS = ("user_agent", "domain")


def user_agent(value: str | None) -> str | None:
    """The user agent as recorded: printable ASCII, at most ``USER_AGENT_MAX``."""
    if not value:
        return None
    kept = _UNPRINTABLE.sub("?", value[:USER_AGENT_MAX]).strip()
    return kept or None


def origin_domain(value: str | None) -> str | None:
    """The host of an ``Origin`` header (``https://app.example:8443`` ->
    ``app.example``); ``None`` for ``null``, a value without a scheme, or a host that
    is not a plain name or address."""
    if not value or len(value) > 2048 or "://" not in value:
        return None
    try:
        host = urlsplit(value).hostname
    except ValueError:  # a malformed IPv6 literal or port
        return None
    if not host:
        return None
    host = host.rstrip(".")
    return host if _HOST.match(host) else None


def client_details(headers: Mapping[str, str]) -> dict[str, str]:
    """The detail keys for a request's ``User-Agent`` and ``Origin`` headers (absent
    keys for absent or unusable values, so an entry carries no empty strings)."""
    found: dict[str, str] = {}
    agent = user_agent(headers.get("user-agent"))
    if agent is not None:
        found["user_agent"] = agent
    domain = origin_domain(headers.get("origin"))
    if domain is not None:
        found["domain"] = domain
    return found


__all__ = ["CLIENT_KEYS", "DOMAIN_MAX", "USER_AGENT_MAX", "client_details", "origin_domain",
           "user_agent"]
