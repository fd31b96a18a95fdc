"""Console fixtures: a real instance on a SQLite file."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sovra.config import Settings
from sovra.instance import Instance, open_instance


@pytest.fixture
def inst(sqlite_settings: Settings) -> Iterator[Instance]:
    opened = open_instance(sqlite_settings)
    try:
        yield opened
    finally:
        opened.close()
