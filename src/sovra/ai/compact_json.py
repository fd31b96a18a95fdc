"""Compact JSON bytes for the wire, with the encoder built once.

``json.dumps(value, separators=(",", ":"))`` constructs a ``JSONEncoder`` on every call
(its keyword arguments differ from the defaults, so the module's cached default encoder
is not used). On the chat hot path that happens twice per request (the upstream body
and the answer). The encoder is stateless, so one instance is shared (as the ledger does for entry
details); its output is the same bytes (tests/ai/test_compact_json.py checks this with
hypothesis).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from json.encoder import encode_basestring_ascii
from typing import Any

_COMPACT = json.JSONEncoder(separators=(",", ":"))
# ... and the C encoder ``JSONEncoder.iterencode`` builds from it on every call, built
# once with the same arguments, except the circular-reference markers: what we encode
# is built by us from scalars, lists and dicts, never a cycle.
_MAKE_C_ENCODER: Any = getattr(json.encoder, "c_make_encoder", None)
_C_COMPACT: Callable[[object, int], Sequence[str]] | None = (
    None if _MAKE_C_ENCODER is None else _MAKE_C_ENCODER(
        None, _COMPACT.default, encode_basestring_ascii, None, _COMPACT.key_separator,
        _COMPACT.item_separator, _COMPACT.sort_keys, _COMPACT.skipkeys,
        _COMPACT.allow_nan))


def compact_json(value: object) -> bytes:
    """``json.dumps(value, separators=(",", ":")).encode()``, without the per-call encoder."""
    if _C_COMPACT is not None:
        return "".join(_C_COMPACT(value, 0)).encode()
    return _COMPACT.encode(value).encode()  # pragma: no cover - CPython has _json


__all__ = ["compact_json"]
