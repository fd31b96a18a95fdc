"""Indicators from STIX 2.1 bundles and MISP feeds: hashes, addresses, domains, agents.

Parsing is pure (bytes in, an ``IndicatorSet`` out). Only equality comparisons are
taken from STIX patterns (STIX 2.1 §9: ``[file:hashes.'SHA-256' = '...']``); a pattern
Sovra cannot match exactly is reported, never silently widened or dropped.
"""

from __future__ import annotations

import io
import ipaddress
import json
import re
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sovra.errors import InvalidInputError

_COMPARISON = re.compile(
    r"(?P<path>[a-z0-9-]+:[A-Za-z0-9_.'\-]+)\s*=\s*'(?P<value>(?:[^'\\]|\\.)*)'")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_PATHS = {
    "file:hashes.'SHA-256'": "sha256", "file:hashes.SHA-256": "sha256",
    "file:hashes.sha256": "sha256",
    "ipv4-addr:value": "ip", "ipv6-addr:value": "ip", "domain-name:value": "domain",
    "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'": "user_agent",
}
_MISP_TYPES = {"sha256": "sha256", "ip-src": "ip", "ip-dst": "ip", "domain": "domain",
               "hostname": "domain", "user-agent": "user_agent"}


@dataclass
class IndicatorSet:
    """Indicator value -> where it came from (pack and indicator/event id)."""

    sha256: dict[str, str] = field(default_factory=dict)
    ip: dict[str, str] = field(default_factory=dict)
    domain: dict[str, str] = field(default_factory=dict)
    user_agent: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def add(self, kind: str, value: str, origin: str) -> None:
        value = value.strip()
        if kind == "sha256":
            value = value.lower()
            if not _SHA256.match(value):
                self.problems.append(f"{origin}: {value!r} is not a SHA-256")
                return
        elif kind == "ip":
            try:
                value = str(ipaddress.ip_address(value))
            except ValueError:
                self.problems.append(f"{origin}: {value!r} is not an IP address")
                return
        elif kind == "domain":
            value = value.lower().rstrip(".")
        getattr(self, kind)[value] = origin

    def merge(self, other: IndicatorSet) -> None:
        for kind in ("sha256", "ip", "domain", "user_agent"):
            getattr(self, kind).update(getattr(other, kind))
        self.problems += other.problems

    def match_domain(self, host: str) -> str | None:
        """The origin of an indicator for ``host`` or any parent domain of it."""
        parts = host.lower().rstrip(".").split(".")
        for i in range(len(parts) - 1):
            origin = self.domain.get(".".join(parts[i:]))
            if origin is not None:
                return origin
        return None

    def __len__(self) -> int:
        return len(self.sha256) + len(self.ip) + len(self.domain) + len(self.user_agent)


def parse_stix(data: bytes, source: str) -> IndicatorSet:
    """Indicators of a STIX 2.1 bundle; ``InvalidInputError`` naming ``source`` if invalid."""
    import stix2
    from stix2.exceptions import STIXError

    try:
        bundle = stix2.parse(data.decode("utf-8"), allow_custom=False, version="2.1")
    except (STIXError, ValueError, UnicodeDecodeError) as exc:
        raise InvalidInputError(f"{source}: invalid STIX 2.1 bundle: {exc}") from exc
    if getattr(bundle, "type", None) != "bundle":
        raise InvalidInputError(f"{source}: a STIX pack must be a bundle object")
    out = IndicatorSet()
    for obj in getattr(bundle, "objects", None) or []:
        if obj.type != "indicator" or obj.pattern_type != "stix":
            continue
        found = False
        for match in _COMPARISON.finditer(obj.pattern):
            kind = _PATHS.get(match.group("path"))
            if kind is not None:
                out.add(kind, match.group("value").replace("\\'", "'"), f"{source}#{obj.id}")
                found = True
        if not found:
            out.problems.append(f"{source}#{obj.id}: pattern {obj.pattern!r} has no "
                                "comparison Sovra matches (file SHA-256, IP, domain, "
                                "user agent)")
    return out


def parse_misp(data: bytes, source: str) -> IndicatorSet:
    """A MISP feed directory carried as a tar: ``manifest.json``, ``<uuid>.json`` events
    (and ``hashes.csv``, which only indexes attribute values, so it is not needed)."""
    files = tar_files(data, source)
    try:
        manifest = json.loads(files["manifest.json"])
    except KeyError as exc:
        raise InvalidInputError(f"{source}: a MISP feed needs manifest.json") from exc
    except ValueError as exc:
        raise InvalidInputError(f"{source}: manifest.json is not JSON: {exc}") from exc
    if not isinstance(manifest, dict):
        raise InvalidInputError(f"{source}: manifest.json must map event UUIDs to events")
    out = IndicatorSet()
    for uuid in sorted(manifest):
        name = f"{uuid}.json"
        if name not in files:
            out.problems.append(f"{source}: manifest lists event {uuid} but {name} is missing")
            continue
        try:
            event = json.loads(files[name])["Event"]
        except (ValueError, KeyError, TypeError) as exc:
            out.problems.append(f"{source}/{name}: not a MISP event: {exc}")
            continue
        for attr in _attributes(event):
            kind = _MISP_TYPES.get(str(attr.get("type")))
            if kind is not None and isinstance(attr.get("value"), str):
                out.add(kind, attr["value"], f"{source}/{name}")
    return out


def _attributes(event: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    attrs: list[Mapping[str, Any]] = [a for a in event.get("Attribute", [])
                                      if isinstance(a, dict)]
    for obj in event.get("Object", []):
        if isinstance(obj, dict):
            attrs += [a for a in obj.get("Attribute", []) if isinstance(a, dict)]
    return attrs


def tar_files(data: bytes, source: str, limit: int = 64 << 20) -> dict[str, bytes]:
    """Regular files of a tar, by base name, read in memory (nothing is extracted)."""
    out: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            total = 0
            for member in tar:
                if not member.isfile():
                    continue
                total += member.size
                if total > limit:
                    raise InvalidInputError(f"{source}: feed larger than {limit} bytes")
                handle = tar.extractfile(member)
                if handle is not None:
                    out[member.name.rsplit("/", 1)[-1]] = handle.read()
    except tarfile.TarError as exc:
        raise InvalidInputError(f"{source}: a MISP pack must be a tar of the feed "
                                f"directory: {exc}") from exc
    return out


__all__ = ["IndicatorSet", "parse_misp", "parse_stix", "tar_files"]
