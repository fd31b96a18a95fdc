"""Read back what the real ledger recorded (no fake sink: the entries as stored)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from sovra.instance import Instance


def ledger_events(instance: Instance, count: int = 200) -> list[dict[str, object]]:
    """The newest ``count`` entries, oldest first, parsed from their recorded bytes."""
    return [json.loads(row.body) for row in instance.ledger.tail(count)]


@pytest.fixture
def events(instance: Instance) -> Callable[[], list[dict[str, object]]]:
    return lambda: ledger_events(instance)
