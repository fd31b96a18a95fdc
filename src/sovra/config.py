"""Typed settings.

Two deployment profiles share one code path:

* ``embedded`` (default): SQLite in WAL mode inside the data directory, one process.
* ``cluster``: PostgreSQL named by ``SOVRA_DATABASE_URL``.

Every setting can come from an environment variable prefixed ``SOVRA_`` (for example
``SOVRA_DATA_DIR``) or from a CLI flag that overrides it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from sovra.errors import ConfigError

# The file in a data directory that says its database is elsewhere (sovra.store.profile).
EXTERNAL_DATABASE_MARKER = "external-database"

Profile = Literal["embedded", "cluster"]


def default_data_dir() -> Path:
    """The per-user data directory (``~/.local/share/sovra`` on Linux)."""
    return Path(platformdirs.user_data_dir("sovra", appauthor=False))


class Settings(BaseSettings):
    """Everything an instance needs to start. Defaults are the safe ones."""

    model_config = SettingsConfigDict(env_prefix="SOVRA_", extra="forbid", frozen=True)

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str | None = None
    host: str = "127.0.0.1"
    port: int = Field(default=8470, ge=1, le=65535)
    # How long a statement waits for a lock another session holds before the request
    # answers 503 (SQLite's busy timeout; PostgreSQL's lock_timeout, see sovra.store).
    db_busy_timeout_s: float = Field(default=30.0, gt=0.0, le=3600.0)

    # Ledger group commit: appends arriving together share one transaction and one sync.
    ledger_batch_max: int = Field(default=1024, ge=1, le=100_000)
    ledger_batch_wait_ms: float = Field(default=2.0, ge=0.0, le=1000.0)
    # A checkpoint is signed at most this often while entries arrive (0 disables the timer).
    checkpoint_interval_s: float = Field(default=10.0, ge=0.0)

    # OIDC bearer tokens from the organisation's IdP (sovra.identity), verified offline
    # against this issuer, audience and JWKS file; all three set enable OIDC. Group
    # mapping is JSON in the environment: SOVRA_OIDC_GROUP_ROLES='{"sec-auditors": ["auditor"]}'.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_path: Path | None = None
    oidc_group_roles: dict[str, list[str]] = Field(default_factory=dict)
    oidc_groups_claim: str = "groups"
    # Console login with the same IdP (authorization code + PKCE, sovra.console.oidc):
    # its two endpoints, on site; the client id defaults to the audience above.
    console_oidc_authorize_url: str | None = None
    console_oidc_token_url: str | None = None
    console_oidc_client_id: str | None = None
    console_oidc_client_secret: SecretStr | None = None

    # Air-gap bundles (sovra.transfer). Grace extends metadata expiry for slow transfers;
    # every import records the grace it used. 0 is the safe default (TUF §5.4.4 as written).
    bundle_expiry_grace_s: float = Field(default=0.0, ge=0.0, le=90 * 86400.0)
    # Two-person import: a second principal with the approver role confirms activation.
    bundle_two_person: bool = False
    # Defensive unpacking limits (per bundle archive).
    bundle_max_bytes: int = Field(default=64 * 2**30, ge=1)
    bundle_max_members: int = Field(default=10_000, ge=1)
    bundle_max_ratio: float = Field(default=200.0, ge=1.0)

    # Threat detection (sovra.threat): how often ``sovra up`` runs an incremental hunt
    # (0 disables the schedule; ``sovra threat hunt`` still runs on demand), and the age
    # after which a threat pack is reported stale, like patch lag.
    threat_hunt_interval_s: float = Field(default=60.0, ge=0.0)
    threat_stale_after_days: float = Field(default=30.0, gt=0.0)

    # Data layer (sovra.data): the largest file ingest accepts, and the classification
    # mapping overrides ({"email": "confidential", ...}; kinds not named keep defaults).
    data_max_file_bytes: int = Field(default=50 * 2**20, ge=1)
    data_classification_mapping: dict[str, str] = Field(default_factory=dict)

    # Continuity (sovra.continuity): where backups go (default <data_dir>/backups), how many
    # to keep (newest per day / per ISO week), and the targets a drill is measured against.
    backup_dir: Path | None = None
    backup_keep_daily: int = Field(default=7, ge=0, le=3650)
    backup_keep_weekly: int = Field(default=4, ge=0, le=520)
    continuity_rto_target_s: float = Field(default=300.0, gt=0.0)
    continuity_rpo_target_s: float = Field(default=86400.0, gt=0.0)
    # Backups (then retention) this often while `sovra up` runs; 0 turns the schedule off.
    backup_interval_s: float = Field(default=0.0, ge=0.0)
    # Continuous archiving of the embedded database by Litestream while `sovra up` runs
    # (ADR 0801): the replica folder (None = off) and how often it is synced (the RPO).
    archive_dir: Path | None = None
    archive_sync_interval_s: float = Field(default=1.0, ge=0.1, le=3600.0)

    # Lockbox (sovra.lockbox): how long a request waits for approvers (at most 4 days),
    # a grant's default lifetime and its hard cap (at most 8 h), whether one denial ends a
    # request, and how many approvers review a break-glass grant within 24 h.
    lockbox_request_ttl_s: float = Field(default=4 * 3600.0, gt=0.0, le=4 * 86400.0)
    lockbox_grant_default_s: float = Field(default=3600.0, gt=0.0, le=8 * 3600.0)
    lockbox_grant_cap_s: float = Field(default=8 * 3600.0, gt=0.0, le=8 * 3600.0)
    lockbox_denial_ends: bool = True
    lockbox_review_quorum: int = Field(default=2, ge=1, le=9)
    lockbox_review_window_s: float = Field(default=86400.0, gt=0.0, le=7 * 86400.0)
    # Whether administrators, like operators, need a grant to read data or destroy keys
    # (ADR 0700 addendum). None (default): on, except while the key custody is in
    # development mode, where `sovra up`, /sys/seal-status and the lockbox status say
    # it is off. True keeps it on even in development mode; False is for tests only.
    lockbox_enforced: bool | None = None
    # Where approvers hear of requests and break-glass, all on site: a syslog collector
    # (udp://HOST:PORT or tcp://HOST:PORT, RFC 5424), a webhook URL, an SMTP relay
    # (HOST:PORT) with its sender and recipients. Unset: not used.
    lockbox_syslog: str | None = None
    lockbox_webhook_url: str | None = None
    lockbox_smtp_relay: str | None = None
    lockbox_mail_from: str = "sovra-lockbox@localhost"
    lockbox_mail_to: list[str] = Field(default_factory=list)

    @field_validator("data_dir")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def profile(self) -> Profile:
        if self.database_url and self.database_url.startswith("postgresql"):
            return "cluster"
        return "embedded"

    @property
    def effective_database_url(self) -> str:
        """The configured URL, or the embedded SQLite file inside the data directory.

        A data directory whose database is elsewhere (``sovra.store.profile`` marks it)
        is refused without the URL, rather than opened as an empty embedded instance."""
        if self.database_url:
            return self.database_url
        marker = self.data_dir / EXTERNAL_DATABASE_MARKER
        if marker.exists():
            recorded = marker.read_text(encoding="utf-8").strip()
            raise ConfigError(
                f"the data directory {self.data_dir} belongs to an instance whose database "
                f"is {recorded}, and SOVRA_DATABASE_URL is not set: set it to that "
                f"database's URL (with its password), or remove {marker} if the instance "
                f"really moved to the embedded database")
        return f"sqlite:///{self.data_dir / 'sovra.db'}"

    @property
    def secrets_dir(self) -> Path:
        """Where the instance keeps key material it must hold (never plaintext root keys)."""
        return self.data_dir / "secrets"


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment plus explicit overrides (CLI flags).

    Overrides that are ``None`` are ignored so a flag left unset falls back to the
    environment and then to the default.
    """
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(
            f"invalid settings ({problems}); fix the flag or the SOVRA_* environment variable"
        ) from exc
