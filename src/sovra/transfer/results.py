"""Values the transfer service returns: import outcomes, activated targets, status."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

BundleState = Literal["activated", "awaiting_approval"]


@dataclass(frozen=True)
class TargetRecord:
    """One verified target: where it is now and what happened to it.

    ``state``: ``registered`` (model), ``proposed`` / ``awaiting_approval`` (policy
    pack), ``stored`` (threat intelligence, SBOM), ``kept`` (wheel), ``staged``
    (waiting for the second person of a two-person import).
    """

    path: str
    kind: str
    component: str
    version: str
    sha256: str
    length: int
    stored_path: Path
    state: str
    custom: Mapping[str, Any]


@dataclass(frozen=True)
class ImportResult:
    """What an import verified and what it activated (or left waiting for approval)."""

    bundle_id: str
    state: BundleState
    versions: Mapping[str, int]
    sha256: Mapping[str, str]
    grace_allowed_s: float
    grace_needed_s: float
    checks: tuple[str, ...]
    targets: tuple[TargetRecord, ...]
    bytes_verified: int


@dataclass(frozen=True)
class ActivatedModel:
    """A model a bundle delivered, for the AI registry (verified SHA-256 and manifest)."""

    component: str
    version: str
    path: Path
    sha256: str
    length: int
    manifest: Mapping[str, str]
    sbom_path: Path | None
    bundle_id: str
    activated_at: datetime


@dataclass(frozen=True)
class ComponentStatus:
    """The newest version of one component a bundle delivered, and how old it is."""

    kind: str
    component: str
    version: str
    bundle_id: str
    built_at: datetime | None
    activated_at: datetime
    age_s: float | None


@dataclass(frozen=True)
class TransferStatus:
    """``sovra bundle status``: trust state, components, and the patch lag."""

    root_version: int | None
    versions: Mapping[str, int]
    components: tuple[ComponentStatus, ...]
    newest_bundle_id: str | None
    newest_built_at: datetime | None
    # Age of the newest applied bundle (now - its build time): how far behind the site is.
    patch_lag_s: float | None
    awaiting_approval: tuple[str, ...]
