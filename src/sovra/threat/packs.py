"""Threat packs: the Sigma, STIX, MISP and YARA targets that signed bundles activated.

Packs enter only through ``sovra.transfer`` (signed, verified, recorded); this module
reads what the transfer room activated (the newest version of each component), parses
it, and reports each pack's age the way ``sovra bundle status`` reports patch lag.
Every problem names its pack and file; one bad pack never unloads the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select

from sovra.errors import InvalidInputError
from sovra.store.tables.transfer import transfer_targets
from sovra.threat.indicators import IndicatorSet, parse_misp, parse_stix, tar_files
from sovra.threat.scanning import YaraRules
from sovra.threat.sigma import CompiledPack, compile_pack

KINDS = ("sigma", "stix", "misp", "yara")
DEFAULT_STALE_AFTER_S = 30 * 86400.0


@dataclass(frozen=True)
class Pack:
    """One activated pack version."""

    target_id: int
    kind: str
    component: str
    version: str
    bundle_id: str
    path: Path
    built_at: datetime | None
    activated_at: datetime

    @property
    def label(self) -> str:
        return f"{self.kind}:{self.component}@{self.version}"


@dataclass(frozen=True)
class PackStatus:
    kind: str
    component: str
    version: str
    bundle_id: str
    age_s: float
    stale: bool

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "component": self.component, "version": self.version,
                "bundle_id": self.bundle_id, "age_days": round(self.age_s / 86400, 1),
                "stale": self.stale}


@dataclass
class LoadedPacks:
    """Everything the active packs say, compiled, with the problems found."""

    fingerprint: tuple[int, ...] = ()
    sigma: CompiledPack = field(default_factory=lambda: CompiledPack((), (), ()))
    indicators: IndicatorSet = field(default_factory=IndicatorSet)
    yara: YaraRules = field(default_factory=lambda: YaraRules.compile({}))
    problems: list[str] = field(default_factory=list)


def active_packs(engine: Engine) -> list[Pack]:
    """The newest activated version of each (kind, component)."""
    with engine.connect() as conn:
        rows = conn.execute(select(transfer_targets).where(
            transfer_targets.c.kind.in_(KINDS)).order_by(transfer_targets.c.id)).all()
    newest: dict[tuple[str, str], Pack] = {}
    for row in rows:
        custom = json.loads(row.custom_json)
        newest[(row.kind, row.component)] = Pack(
            int(row.id), row.kind, row.component, row.version, row.bundle_id,
            Path(row.stored_path), _iso(custom.get("built_at")),
            datetime.fromtimestamp(float(row.activated_at), UTC))
    return list(newest.values())


def pack_status(packs: list[Pack], now: datetime,
                stale_after_s: float = DEFAULT_STALE_AFTER_S) -> list[PackStatus]:
    """Each pack's age since it was built (or activated, if the build time is unknown)."""
    out = []
    for pack in sorted(packs, key=lambda p: (p.kind, p.component)):
        age = (now - (pack.built_at or pack.activated_at)).total_seconds()
        out.append(PackStatus(pack.kind, pack.component, pack.version, pack.bundle_id, age,
                              age > stale_after_s))
    return out


def load_packs(packs: list[Pack], dialect: str) -> LoadedPacks:
    loaded = LoadedPacks(fingerprint=tuple(sorted(p.target_id for p in packs)))
    sigma_files: dict[str, str] = {}
    yara_files: dict[str, str] = {}
    for pack in packs:
        try:
            data = pack.path.read_bytes()
        except OSError as exc:
            loaded.problems.append(f"{pack.label}: cannot read {pack.path}: {exc}")
            continue
        try:
            if pack.kind == "sigma":
                sigma_files.update(_texts(pack, data, (".yml", ".yaml")))
            elif pack.kind == "yara":
                yara_files.update(_texts(pack, data, (".yar", ".yara")))
            elif pack.kind == "stix":
                loaded.indicators.merge(parse_stix(data, pack.label))
            else:
                loaded.indicators.merge(parse_misp(data, pack.label))
        except InvalidInputError as exc:
            loaded.problems.append(str(exc))
    loaded.sigma = compile_pack(sigma_files, dialect)
    loaded.yara = YaraRules.compile(yara_files)
    loaded.problems += [str(p) for p in loaded.sigma.problems]
    loaded.problems += [str(p) for p in loaded.yara.problems]
    loaded.problems += loaded.indicators.problems
    return loaded


def _texts(pack: Pack, data: bytes, suffixes: tuple[str, ...]) -> Mapping[str, str]:
    """A pack file is one rule file, or a tar of a rule tree (SigmaHQ's layout)."""
    if pack.path.name.endswith((".tar", ".tar.gz", ".tgz")):
        files = {f"{pack.label}/{name}": body for name, body in
                 tar_files(data, pack.label).items() if name.endswith(suffixes)}
    else:
        files = {f"{pack.label}/{pack.path.name}": data}
    try:
        return {name: body.decode("utf-8") for name, body in files.items()}
    except UnicodeDecodeError as exc:
        raise InvalidInputError(f"{pack.label}: rule files must be UTF-8: {exc}") from exc


def _iso(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


__all__ = ["KINDS", "LoadedPacks", "Pack", "PackStatus", "active_packs", "load_packs",
           "pack_status"]
