"""Read side: activated models for the AI registry, and the site's patch lag.

``activated_models`` is the contract with the AI room: each model a verified bundle
delivered, with the path it lives at, its verified SHA-256, and its signed manifest.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from sovra import __version__
from sovra.transfer import store
from sovra.transfer.results import ActivatedModel, ComponentStatus, TransferStatus


def activated_models(engine: Engine) -> list[ActivatedModel]:
    """Every model a bundle activated, oldest first (verified hash, manifest, SBOM)."""
    sboms = {json.loads(r["custom_json"]).get("describes"): r["stored_path"]
             for r in store.target_rows(engine, "sbom")}
    models = []
    for row in store.target_rows(engine, "model"):
        custom = json.loads(row["custom_json"])
        manifest = custom.get("manifest") or {}
        sbom = sboms.get(row["path"])
        models.append(ActivatedModel(
            component=row["component"], version=row["version"], path=Path(row["stored_path"]),
            sha256=row["sha256"], length=int(row["length"]),
            manifest={str(k): str(v) for k, v in manifest.items()},
            sbom_path=Path(sbom) if sbom else None, bundle_id=row["bundle_id"],
            activated_at=datetime.fromtimestamp(float(row["activated_at"]), UTC)))
    return models


def transfer_status(engine: Engine, now: datetime) -> TransferStatus:
    """Each component's newest version and age, and the age of the newest bundle."""
    trust = store.load_trust(engine)
    bundles = store.bundle_rows(engine)
    activated = [b for b in bundles if b["status"] == "activated"]
    newest = max(activated, key=lambda b: (b["timestamp_version"], b["activated_at"]),
                 default=None)
    newest_built = _time(newest["built_at"]) if newest else None
    components: dict[tuple[str, str], Mapping[str, Any]] = {}
    for row in store.target_rows(engine):
        if row["kind"] != "sbom":
            components[(row["kind"], row["component"])] = row  # later rows win
    return TransferStatus(
        root_version=trust.version("root") if trust else None,
        versions=dict(trust.versions) if trust else {},
        components=(_running(now), *(_component(r, now) for r in components.values())),
        newest_bundle_id=newest["id"] if newest else None,
        newest_built_at=newest_built,
        patch_lag_s=(now - newest_built).total_seconds() if newest_built else None,
        awaiting_approval=tuple(b["id"] for b in bundles if b["status"] == "awaiting_approval"))


def _component(row: Mapping[str, Any], now: datetime) -> ComponentStatus:
    built = _iso(json.loads(row["custom_json"]).get("built_at"))
    return ComponentStatus(
        kind=row["kind"], component=row["component"], version=row["version"],
        bundle_id=row["bundle_id"], built_at=built,
        activated_at=datetime.fromtimestamp(float(row["activated_at"]), UTC),
        age_s=(now - built).total_seconds() if built else None)


def _running(now: datetime) -> ComponentStatus:
    # The Sovra code running now, so the newest kept wheel can be compared with it.
    return ComponentStatus(kind="running", component="sovra", version=__version__,
                           bundle_id="-", built_at=None, activated_at=now, age_s=None)


def _time(value: object) -> datetime | None:
    return datetime.fromtimestamp(float(value), UTC) if isinstance(value, (int, float)) else None


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
