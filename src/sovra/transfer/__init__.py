"""Signed air-gap bundles: TUF-verified models, policies, threat intelligence, wheels.

Connected side: ``keygen``, ``init_repository``, ``rotate_root``, ``build_bundle``.
Site side: ``TransferService`` (``instance.transfer``) pins the root, imports, approves
and reports status; ``activated_models`` is what the AI registry reads.

The exports load on first use, so the pure ``sovra.transfer.verify`` imports without the
site service's database stack.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sovra._lazy import load_export

if TYPE_CHECKING:
    from sovra.transfer.archive import UnpackLimits
    from sovra.transfer.build import BuildResult, build_bundle
    from sovra.transfer.catalog import activated_models, transfer_status
    from sovra.transfer.repository import init_repository, root_history, rotate_root
    from sovra.transfer.results import (
        ActivatedModel,
        ComponentStatus,
        ImportResult,
        TargetRecord,
        TransferStatus,
    )
    from sovra.transfer.service import APPROVER_ROLE, TransferService
    from sovra.transfer.signing import (
        KeyFiles,
        hsm_import,
        keygen,
        load_public_key,
        load_signer,
    )
    from sovra.transfer.spec import BundleSpec, load_spec
    from sovra.transfer.staging import extract_unverified
    from sovra.transfer.store import pending_bundle

_HOMES = {
    "UnpackLimits": "sovra.transfer.archive",
    "BuildResult": "sovra.transfer.build",
    "build_bundle": "sovra.transfer.build",
    "activated_models": "sovra.transfer.catalog",
    "transfer_status": "sovra.transfer.catalog",
    "init_repository": "sovra.transfer.repository",
    "root_history": "sovra.transfer.repository",
    "rotate_root": "sovra.transfer.repository",
    **dict.fromkeys(("ActivatedModel", "ComponentStatus", "ImportResult", "TargetRecord",
                     "TransferStatus"), "sovra.transfer.results"),
    "APPROVER_ROLE": "sovra.transfer.service",
    "TransferService": "sovra.transfer.service",
    **dict.fromkeys(("KeyFiles", "hsm_import", "keygen", "load_public_key", "load_signer"),
                    "sovra.transfer.signing"),
    "BundleSpec": "sovra.transfer.spec",
    "load_spec": "sovra.transfer.spec",
    "extract_unverified": "sovra.transfer.staging",
    "pending_bundle": "sovra.transfer.store",
}


def __getattr__(name: str) -> Any:
    return load_export(__name__, _HOMES, name)


__all__ = [
    "APPROVER_ROLE",
    "ActivatedModel",
    "BuildResult",
    "BundleSpec",
    "ComponentStatus",
    "ImportResult",
    "KeyFiles",
    "TargetRecord",
    "TransferService",
    "TransferStatus",
    "UnpackLimits",
    "activated_models",
    "build_bundle",
    "extract_unverified",
    "hsm_import",
    "init_repository",
    "keygen",
    "load_public_key",
    "load_signer",
    "load_spec",
    "pending_bundle",
    "root_history",
    "rotate_root",
    "transfer_status",
]
