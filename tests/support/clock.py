"""The one test clock for anything that carries an expiry.

Bundle metadata, grants and certificates built by tests expire relative to this
instant. It is the real time when the test session starts (to the minute), so the
server under test, which reads the real clock, agrees with metadata the fixtures
sign: a fixed calendar date here made CI fail once that date was 14 days old.
Tests that need to move time forward inject ``TEST_NOW + timedelta(...)``.
"""

from __future__ import annotations

from datetime import UTC, datetime

TEST_NOW = datetime.now(UTC).replace(second=0, microsecond=0)
