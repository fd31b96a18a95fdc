"""Threat fixtures: the test pack imported through a real signed bundle.

The transfer room's ``Workshop`` (real Ed25519 keys, real TUF metadata, real tar) builds
a bundle carrying the test pack (Sigma rules, EICAR YARA, a STIX bundle, a MISP feed);
the site pins the workshop's root and imports it like any other bundle.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from sovra.identity import Caller
from sovra.instance import Instance
from sovra.keys import Share
from sovra.threat.service import ThreatService
from sovra.transfer import BundleSpec, ImportResult
from tests.support.clock import TEST_NOW
from tests.transfer.conftest import Workshop, key_dir, signers, workshop

__all__ = ["Armed", "key_dir", "signers", "workshop"]  # the transfer fixtures, reused

PACK = Path(__file__).parent / "pack"
EICAR = rb"X5O!P%@AP[4\PZX54(P^)7CC)7}$EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"


def misp_tar(folder: Path) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted((PACK / "misp-feed").iterdir()):
            tar.add(path, arcname=f"misp-feed/{path.name}")
    (folder / "cert-feed.tar").write_bytes(out.getvalue())
    return out.getvalue()


def pack_spec(folder: Path, version: str = "1", *,
              overrides: dict[str, bytes] | None = None) -> BundleSpec:
    """A bundle of the test pack; ``overrides`` replaces a file's bytes by its name."""
    folder.mkdir(parents=True, exist_ok=True)
    misp_tar(folder)
    files = {"sovra-rules.yml": (PACK / "sovra-rules.yml").read_bytes(),
             "eicar.yar": (PACK / "eicar.yar").read_bytes(),
             "indicators.stix.json": (PACK / "indicators.stix.json").read_bytes()}
    files.update(overrides or {})
    for name, body in files.items():
        (folder / name).write_bytes(body)
    targets: list[dict[str, Any]] = [
        {"kind": "sigma", "path": folder / "sovra-rules.yml", "component": "sovra-rules",
         "version": version},
        {"kind": "yara", "path": folder / "eicar.yar", "component": "eicar",
         "version": version},
        {"kind": "stix", "path": folder / "indicators.stix.json", "component": "test-stix",
         "version": version},
        {"kind": "misp", "path": folder / "cert-feed.tar", "component": "cert-feed",
         "version": version},
    ]
    return BundleSpec.model_validate({"name": f"threat-pack-{version}", "targets": targets})


@dataclass
class Armed:
    instance: Instance
    admin: Caller
    threat: ThreatService
    imported: ImportResult

    def caller(self, principal_id: str) -> Caller:
        return self.instance.identity.caller_for(principal_id)


@pytest.fixture
def armed(instance: Instance, workshop: Workshop, tmp_path: Path) -> Armed:
    """An unsealed instance with the test pack imported through a signed bundle."""
    identity = instance.identity
    identity.create_principal("system", "alice", roles=["admin"], clearance="secret")
    identity.create_principal("system", "dave", roles=["analyst"], clearance="internal")
    admin = identity.caller_for("alice")
    dealt: list[Share] = []
    instance.keys.init(threshold=2, shares=3, deliver=dealt.extend, actor="test-operator")
    instance.transfer.trust_root((workshop.repo / "roots" / "1.root.json").read_bytes(), admin)
    bundle = workshop.build(pack_spec(tmp_path / "pack-src"))
    imported = instance.transfer.import_bundle(bundle, admin)
    threat = ThreatService(instance.engine, instance.ledger, instance.policy,
                           clock=lambda: TEST_NOW.timestamp())
    return Armed(instance, admin, threat, imported)
