"""``compact_json`` (one shared encoder) gives exactly ``json.dumps`` with compact
separators, for any JSON value the wire can carry, floats and non-ASCII text included."""

from __future__ import annotations

import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.ai.compact_json import compact_json

_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=_VALUES)
def test_compact_json_equals_json_dumps(value: Any) -> None:
    assert compact_json(value) == json.dumps(value, separators=(",", ":")).encode()


def test_compact_json_keeps_dumps_defaults() -> None:
    # ensure_ascii, NaN allowed, keys in insertion order: what json.dumps does.
    assert compact_json({"b": "é", "a": [math.inf, 1.5]}) == b'{"b":"\\u00e9","a":[Infinity,1.5]}'
