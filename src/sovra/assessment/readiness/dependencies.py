"""The dependency map: every component the instance relies on, with who supplies and
operates it and under which jurisdiction, where the instance knows it.

Read from the model registry, the SBOMs delivered in signed bundles (Python wheels, OS
packages, runtimes shipped with a model), the bundles' components, upstream model
servers, ledger witnesses, operators who held lockbox grants, and the HSM token.
Unknown is written as "unknown", never guessed.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from sovra.ledger import LedgerStore
from sovra.ledger import note as notes

if TYPE_CHECKING:
    from sovra.instance import Instance

UNKNOWN = "unknown"
ORGANISATION = "this organisation"


@dataclass(frozen=True)
class Dependency:
    component: str
    kind: str  # model | upstream | library | os-package | bundle-component | witness | ...
    supplier: str
    operator: str
    jurisdiction: str
    source: str  # where Sovra read it

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def sbom_components(path: Path | None, model: str) -> list[Dependency]:
    if path is None:
        return []
    try:
        doc: dict[str, Any] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return [Dependency(f"SBOM of {model}", "sbom", UNKNOWN, UNKNOWN, UNKNOWN,
                           f"{path} (unreadable)")]
    out = []
    for c in doc.get("components", []):
        if not isinstance(c, dict):
            continue
        kind = {"operating-system": "os-package", "library": "library"}.get(
            str(c.get("type")), str(c.get("type", "component")))
        supplier = c.get("supplier", {}).get("name") if isinstance(c.get("supplier"),
                                                                   dict) else None
        out.append(Dependency(f"{c.get('name')}@{c.get('version')}", kind,
                              str(supplier or c.get("publisher") or UNKNOWN), ORGANISATION,
                              UNKNOWN, f"SBOM of {model}"))
    return out


def _models(inst: Instance) -> list[Dependency]:
    out = []
    for r in inst.ai.registry.list():
        s = r.spec
        if s.locality == "in_process":
            operator, where = ORGANISATION, "local"
        else:
            host = urlsplit(s.upstream_url or "").hostname or UNKNOWN
            operator = ORGANISATION if s.locality == "on_premises" else host
            where = "local" if s.locality == "on_premises" else UNKNOWN
            out.append(Dependency(f"upstream {host}", "upstream", host, operator, where,
                                  f"model registry ({r.model_id})"))
        out.append(Dependency(r.model_id, "model", s.source or UNKNOWN, operator, where,
                              "model registry"))
    for m in inst.transfer.activated_models():
        out.extend(sbom_components(m.sbom_path, m.component))
    return out


def _bundled(inst: Instance) -> list[Dependency]:
    return [Dependency(f"{c.component}@{c.version}", f"bundle-{c.kind}", "bundle signer",
                       ORGANISATION, "local", f"bundle {c.bundle_id}")
            for c in inst.transfer.status().components
            if c.kind not in ("running", "model", "sbom")]


def _witnesses(inst: Instance) -> list[Dependency]:
    names = sorted({notes.parse_vkey(c.witness).name
                    for c in LedgerStore(inst.engine).cosignatures()})
    return [Dependency(name, "witness", name.split("/")[0], name.split("/")[0], UNKNOWN,
                       "ledger cosignatures") for name in names]


def _operators(inst: Instance) -> list[Dependency]:
    granted = {}
    for req in inst.lockbox.list():
        if req.status.value not in ("pending", "denied"):
            granted[req.requester] = req.jurisdiction or UNKNOWN
    return [Dependency(who, "operator-with-lockbox-access", ORGANISATION, who, where,
                       "lockbox requests") for who, where in sorted(granted.items())]


def _hsm(inst: Instance) -> list[Dependency]:
    s = inst.keys.seal_status()
    if s.mode != "hsm":
        return []
    return [Dependency(f"HSM token {s.hsm_token}", "hsm", UNKNOWN, ORGANISATION, "local",
                       "key ceremony")]


def dependency_map(inst: Instance) -> list[Dependency]:
    found = [*_models(inst), *_bundled(inst), *_witnesses(inst), *_operators(inst),
             *_hsm(inst)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for d in found:
        if (d.component, d.kind) not in seen:
            seen.add((d.component, d.kind))
            unique.append(d)
    return unique


__all__ = ["Dependency", "dependency_map", "sbom_components"]
