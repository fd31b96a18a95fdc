"""Read back what the analytics room recorded (the ledger's own entries, decoded)."""

from __future__ import annotations

import json
from typing import Any

from sovra.instance import Instance


def entries(instance: Instance, action: str, count: int = 200) -> list[dict[str, Any]]:
    out = []
    for row in instance.ledger.tail(count):
        body = json.loads(row.body)
        if body.get("action") == action:
            out.append(body)
    return out
