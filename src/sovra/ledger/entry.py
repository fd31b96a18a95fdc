"""Ledger entries: canonical JSON (RFC 8785) that the Merkle leaves hash.

An entry is the object ``{action, actor, details, outcome, resource, seq, time}``
serialized by RFC 8785 (JCS). JCS sorts keys, and ``seq`` and ``time`` sort after every
other field, so the caller's part can be canonicalized in the caller's thread and the
writer only appends ``,"seq":N,"time":"T"}`` once it has assigned the sequence number
(the test suite checks this equals ``rfc8785.dumps`` of the whole object). Any new field
must therefore sort before ``"seq"``.

Large payloads never go into an entry: callers put ``payload_ref(blob)`` (its SHA-256
and size) into ``details`` instead, and details are capped at ``MAX_DETAILS_BYTES``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import time as _time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder  # type: ignore[attr-defined]
from json.encoder import encode_basestring as _string
from typing import Any, NoReturn

import rfc8785

from sovra.errors import InvalidInputError

OUTCOMES = frozenset({"success", "failure", "denied", "allowed"})
MAX_DETAILS_BYTES = 16 * 1024
# Column widths in sovra.store.tables.ledger.
MAX_ACTION, MAX_ACTOR, MAX_RESOURCE = 128, 256, 512

_ACTION = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
# The serialized tail every entry ends with; the verifier's fast path relies on it.
TAIL = re.compile(rb',"seq":(0|[1-9][0-9]*),"time":"([0-9T:.\-]+Z)"}\Z')


@dataclass(frozen=True)
class Entry:
    """One decoded ledger entry."""

    seq: int
    time: str
    actor: str
    action: str
    resource: str
    outcome: str
    details: Mapping[str, Any]


def payload_ref(data: bytes, *, media_type: str | None = None) -> dict[str, object]:
    """Reference a large payload by hash: put this in ``details`` instead of the bytes."""
    ref: dict[str, object] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    if media_type is not None:
        ref["media_type"] = media_type
    return ref


# Years 1970-9999: four digits from ``time.strftime``, as ``datetime`` writes them.
_SECONDS_RANGE = range(253_402_300_800)


def _split(epoch_s: float) -> tuple[int, int]:
    """Whole seconds and microseconds, rounded as ``datetime`` rounds (half to even)."""
    fraction, whole = math.modf(epoch_s)
    micros = round(fraction * 1e6)
    second = int(whole)
    if micros >= 1_000_000:
        second, micros = second + 1, micros - 1_000_000
    elif micros < 0:
        second, micros = second - 1, micros + 1_000_000
    return second, micros


def format_time(epoch_s: float) -> str:
    """RFC 3339 UTC with microseconds: fixed width, sorts as text, no JSON numbers.

    Exactly ``datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")``
    (the same round-half-even to the microsecond, tests compare the two). Keeps nothing
    between calls; the ledger's writer uses a ``TimeFormatter`` of its own.
    """
    second, micros = _split(epoch_s)
    if second not in _SECONDS_RANGE:
        return datetime.fromtimestamp(epoch_s, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{_time.strftime('%Y-%m-%dT%H:%M:%S.', _time.gmtime(second))}{micros:06d}Z"


class TimeFormatter:
    """``format_time`` that reuses the text of the last whole second it formatted.

    The ledger's writer stamps every batch: with one caller that is one call per commit,
    and ``datetime.strftime`` cost it 20 µs there (cold caches between commits). One per
    ledger, owned by it, not a module global (issue 14).
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last: tuple[int, str] = (-1, "")

    def __call__(self, epoch_s: float) -> str:
        second, micros = _split(epoch_s)
        last = self._last  # one read of a tuple: safe beside another thread's update
        if last[0] != second:
            if second not in _SECONDS_RANGE:
                return format_time(epoch_s)
            last = (second, _time.strftime("%Y-%m-%dT%H:%M:%S.", _time.gmtime(second)))
            self._last = last
        return f"{last[1]}{micros:06d}Z"


def prepare(actor: str, action: str, resource: str, outcome: str,
            details: Mapping[str, object] | None) -> bytes:
    """Validate the caller's fields and canonicalize them, without the final ``}``."""
    _check_text("actor", actor, MAX_ACTOR)
    _check_text("resource", resource, MAX_RESOURCE)
    if type(action) is not str or not _is_action(action):  # unhashable: not cacheable
        _check_text("action", action, MAX_ACTION)
        raise InvalidInputError(f"ledger action {action!r} must be dotted lowercase, "
                                "like 'keys.unseal'")
    if outcome not in OUTCOMES:
        raise InvalidInputError(f"ledger outcome {outcome!r} must be one of "
                                f"{', '.join(sorted(OUTCOMES))}")
    if details is None:
        details = {}
    elif type(details) is not dict:
        if not isinstance(details, Mapping):
            raise InvalidInputError("ledger details must be a mapping")
        details = dict(details)
    canonical = _fast_canonical(actor, action, resource, outcome, details)
    if canonical is None:
        fields: Any = {"action": action, "actor": actor, "details": details,
                       "outcome": outcome, "resource": resource}
        try:
            canonical = rfc8785.dumps(fields)[:-1]
        except (rfc8785.CanonicalizationError, TypeError, ValueError, UnicodeError) as exc:
            raise InvalidInputError(f"ledger details are not canonical JSON: {exc}") from exc
    if len(canonical) >= MAX_DETAILS_BYTES:
        raise InvalidInputError(
            f"ledger entry is {len(canonical) + 1} bytes, over the {MAX_DETAILS_BYTES}-byte "
            "cap; reference large payloads with sovra.ledger.payload_ref(blob) instead")
    return canonical


# RFC 8785 §3.2.3 sorts keys; these five sort in this order, and ``seq``/``time`` after.
_PREFIX = '{"action":"%s","actor":%s,"details":%s,"outcome":"%s","resource":%s'
# The encoder ``json.dumps`` builds on every call, built once (check_circular off:
# ``_plain`` has already bounded the depth, so a cycle never reaches it) ...
_DETAILS_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"),
                                    ensure_ascii=False, check_circular=False,
                                    allow_nan=False)
# ... and the C encoder that ``JSONEncoder.encode`` builds from it on every call, built
# once with the same arguments (``json.encoder.iterencode``), where the C module exists.
_C_ENCODER: Callable[[object, int], Sequence[str]] | None = (
    None if c_make_encoder is None else c_make_encoder(
        None, _DETAILS_ENCODER.default, _string, None, _DETAILS_ENCODER.key_separator,
        _DETAILS_ENCODER.item_separator, _DETAILS_ENCODER.sort_keys,
        _DETAILS_ENCODER.skipkeys, _DETAILS_ENCODER.allow_nan))


def _details_json(details: dict[str, Any]) -> str:
    if _C_ENCODER is not None:
        return "".join(_C_ENCODER(details, 0))
    return _DETAILS_ENCODER.encode(details)  # pragma: no cover - CPython has _json


def _fast_canonical(actor: str, action: str, resource: str, outcome: str,
                    details: dict[str, Any]) -> bytes | None:
    """RFC 8785 bytes (without the final ``}``) via the C JSON encoder, when that is
    provably the same output; None sends the entry to ``rfc8785``.

    For strings, booleans, null, integers within ±(2^53 - 1), lists and objects whose
    keys are all in the Basic Multilingual Plane, RFC 8785 (§3.2.2: ECMAScript string
    escaping; §3.2.3: keys sorted by UTF-16 code units) and the ``json`` module with
    sorted keys and ``ensure_ascii=False`` emit identical bytes. Anything else (floats,
    large integers, astral keys, lone surrogates) goes to ``rfc8785``. ``action`` (dotted
    lowercase, checked) and ``outcome`` (one of ``OUTCOMES``) need no escaping.
    tests/ledger/test_entry.py checks the equivalence with hypothesis.
    """
    if not _plain_object(details, 0):
        return None
    try:
        return (_PREFIX % (action, _string(actor), _details_json(details), outcome,
                           _string(resource))).encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: let rfc8785 reject it
        return None


_SAFE_INT = 2**53 - 1


def _plain(value: object, depth: int) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return -_SAFE_INT <= value <= _SAFE_INT  # type: ignore[operator]
    if kind is dict:
        return _plain_object(value, depth + 1)  # type: ignore[arg-type]
    if kind is list and depth < 32:
        return all(_plain(v, depth + 1) for v in value)  # type: ignore[attr-defined]
    return False


def _plain_object(value: dict[Any, Any], depth: int) -> bool:
    # A loop rather than ``all(...)`` over a generator: flat details are the common case
    # and this runs in every caller's thread under the GIL.
    if depth > 32:
        return False
    for k, v in value.items():
        if type(k) is not str or not (k.isascii() or max(map(ord, k)) < 0x10000):
            return False
        kind = type(v)
        if kind is str or kind is bool or v is None:
            continue
        if kind is int:
            if not -_SAFE_INT <= v <= _SAFE_INT:
                return False
        elif not _plain(v, depth):
            return False
    return True


def seal(prefix: bytes, seq: int, time: str) -> bytes:
    """Complete a prepared entry with its sequence number and time."""
    return prefix + b',"seq":%d,"time":"%s"}' % (seq, time.encode("ascii"))


def seal_many(prefixes: Iterable[bytes], first: int, time: str) -> list[bytes]:
    """``seal`` for consecutive sequence numbers from ``first`` sharing one time."""
    tail = b',"time":"%s"}' % time.encode("ascii")
    return [prefix + b',"seq":%d' % seq + tail for seq, prefix in enumerate(prefixes, first)]


def decode(body: bytes) -> Entry:
    """Parse an entry's bytes; ``ValueError`` if they are not a well-formed entry."""
    value = json.loads(body)
    if not isinstance(value, dict):
        _malformed("entry is not a JSON object")
    expected = {"action", "actor", "details", "outcome", "resource", "seq", "time"}
    if set(value) != expected:
        raise ValueError(f"entry fields are {sorted(value)}, expected {sorted(expected)}")
    if rfc8785.dumps(value) != body:
        raise ValueError("entry is not in RFC 8785 canonical form")
    if not isinstance(value["seq"], int) or not isinstance(value["details"], dict):
        _malformed("entry seq must be an integer and details an object")
    return Entry(seq=value["seq"], time=value["time"], actor=value["actor"],
                 action=value["action"], resource=value["resource"],
                 outcome=value["outcome"], details=value["details"])


def _malformed(reason: str) -> NoReturn:
    raise ValueError(reason)


@functools.lru_cache(maxsize=4096)
def _is_action(action: object) -> bool:
    """A non-empty dotted lowercase name within the column width. Actions are a small
    vocabulary, so the answer is memoized rather than matched on every append."""
    return (isinstance(action, str) and 0 < len(action) <= MAX_ACTION
            and _ACTION.fullmatch(action) is not None)


def _check_text(name: str, value: str, limit: int) -> None:
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"ledger {name} must be a non-empty string")
    if len(value) > limit:
        raise InvalidInputError(f"ledger {name} is longer than {limit} characters")
    # Actor and resource are also stored in text columns, and PostgreSQL's text cannot
    # hold NUL: one such entry would fail the INSERT of its whole batch, every other
    # caller's entry with it (issue 13). Refused here, in the caller's thread, so only
    # that caller fails. (Details live only in the body, where JSON escapes NUL; lone
    # surrogates fail the canonical encoding below, also in the caller's thread.)
    if "\x00" in value:
        raise InvalidInputError(f"ledger {name} {value!r} contains a NUL character, which "
                                "the database cannot store; remove it")
