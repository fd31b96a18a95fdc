"""Threat tables: security events projected from the ledger, alerts, and cursors.

``threat_events`` is a projection (docs/threat.md lists its fields and their Sigma
names): each row is one ledger entry, keyed by its sequence number, so re-projecting is
idempotent and the ledger stays the source of truth. ``threat_cursors`` holds how far
each incremental pass has read (the projection, and each rule's last event).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, String, Table, Text

from sovra.store.tables import metadata

threat_events = Table(
    "threat_events",
    metadata,
    # INTEGER on SQLite makes seq the rowid: ranges of new events are read in place,
    # with no second lookup through a primary-key index.
    Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True,
           autoincrement=False),
    Column("ts", Float, nullable=False),  # epoch seconds: window functions range over it
    Column("timestamp", String(32), nullable=False),  # RFC 3339, as in the ledger
    Column("principal", String(256), nullable=False),
    Column("role", String(256), nullable=False),
    Column("action", String(128), nullable=False),
    Column("resource", String(512), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("source_ip", String(64), nullable=True),
    Column("classification", String(16), nullable=True),
    Column("model", String(256), nullable=True),
    Column("credential", String(64), nullable=True),
    Column("documents", Integer, nullable=False),
    Column("chunks", Integer, nullable=False),
    Column("bytes", BigInteger, nullable=False),
    Column("hour", Integer, nullable=False),  # UTC hour of day, for off-hours rules
    Column("grant_id", String(64), nullable=True),  # lockbox grant a decision used
    # Request metadata matched against domain and user-agent indicators (threat_0002).
    Column("user_agent", String(256), nullable=True),
    Column("domain", String(253), nullable=True),
    Index("ix_threat_events_action_seq", "action", "seq"),
    Index("ix_threat_events_principal_ts", "principal", "ts"),
    Index("ix_threat_events_ts", "ts"),
)

threat_cursors = Table(
    "threat_cursors",
    metadata,
    Column("name", String(300), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Each base rule's matches (rule_key: a digest of its SQL condition), stored by the pass
# that found them, so a correlation's window reads these few rows, not every event of
# its timespan again; rows older than the longest timespan are dropped (threat_0002).
threat_rule_matches = Table(
    "threat_rule_matches",
    metadata,
    Column("rule_key", BigInteger, primary_key=True, autoincrement=False),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("ts", Float, nullable=False),
    Index("ix_threat_rule_matches_seq", "seq"),
)

threat_alerts = Table(
    "threat_alerts",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("rule_id", String(300), nullable=False),
    Column("title", Text, nullable=False),
    Column("severity", String(16), nullable=False),
    # Rule and group values: an open alert with the same key absorbs new matches.
    Column("dedup_key", String(128), nullable=False, index=True),
    # "open", "acknowledged", "closed".
    Column("status", String(16), nullable=False, index=True),
    Column("assignee", String(256), nullable=True),
    Column("count", Integer, nullable=False),
    Column("first_seen", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("detail_json", Text, nullable=False),
    Column("close_reason", Text, nullable=True),
    Column("incident_id", String(64), nullable=True),
)

threat_alert_events = Table(
    "threat_alert_events",
    metadata,
    Column("alert_id", String(32), primary_key=True),
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
)

threat_quarantine = Table(
    "threat_quarantine",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("sha256", String(64), nullable=False, index=True),
    Column("name", Text, nullable=False),
    Column("origin", String(512), nullable=False),  # collection/<id> or bundle:<id>
    Column("principal", String(256), nullable=False),
    Column("matches_json", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

__all__ = ["threat_alert_events", "threat_alerts", "threat_cursors", "threat_events",
           "threat_quarantine", "threat_rule_matches"]
