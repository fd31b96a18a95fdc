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

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# (object type, property path) of the comparisons Sovra matches, STIX 2.1 §9 and the
# cyber-observable objects of Part 4 (file, ipv4/ipv6-addr, domain-name, and the
# network-traffic HTTP request extension carrying the User-Agent header).
_PATHS: dict[tuple[str, tuple[str, ...]], str] = {
    ("file", ("hashes", "SHA-256")): "sha256", ("file", ("hashes", "sha256")): "sha256",
    ("ipv4-addr", ("value",)): "ip", ("ipv6-addr", ("value",)): "ip",
    ("domain-name", ("value",)): "domain",
    ("network-traffic", ("extensions", "http-request-ext", "request_header", "User-Agent")):
        "user_agent",
}
_STRING = re.compile(r"'(?:[^'\\]|\\.)*'")
_AND = re.compile(r"\bAND\b")
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
        if obj.type == "indicator" and obj.pattern_type == "stix":
            _add_pattern(out, str(obj.pattern), f"{source}#{obj.id}")
    return out


def _add_pattern(out: IndicatorSet, pattern: str, origin: str) -> None:
    """The equality comparisons of a STIX pattern, parsed by the reference grammar
    (stix2-patterns). Sovra matches one value at a time, so a pattern is taken only
    where that is exact: comparisons joined by OR, each ``=`` on a property Sovra
    sees, no qualifiers (WITHIN, REPEATS...). Anything else is reported, never
    widened or silently dropped."""
    from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]

    try:
        found = Pattern(pattern).inspect()
    except Exception as exc:  # noqa: BLE001 - the grammar raises several kinds
        out.problems.append(f"{origin}: pattern {pattern!r} does not parse: {exc}")
        return
    inexact = bool(found.qualifiers) or not set(found.observation_ops) <= {"OR"} or bool(
        _AND.search(_STRING.sub("''", pattern)))
    comparisons = [(kind, tuple(str(p) for p in path), op, value)
                   for kind, items in found.comparisons.items()
                   for path, op, value in items]
    usable = [(_PATHS[(k, p)], v) for k, p, op, v in comparisons
              if op == "=" and (k, p) in _PATHS and _quoted(v)]
    if inexact or not usable:
        out.problems.append(f"{origin}: pattern {pattern!r} is not an OR of equality "
                            "comparisons Sovra matches (file SHA-256, IP, domain, user "
                            "agent); not used")
        return
    if len(usable) < len(comparisons):
        out.problems.append(f"{origin}: pattern {pattern!r}: only its comparisons of "
                            "file SHA-256, IP, domain and user agent are matched")
    for kind, value in usable:
        out.add(kind, _unquote(value), origin)


def _quoted(value: object) -> bool:
    return isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == "'"


def _unquote(value: str) -> str:
    return re.sub(r"\\(.)", r"\1", value[1:-1])


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
