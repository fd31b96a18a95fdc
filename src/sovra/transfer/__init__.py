"""Signed air-gap bundles: TUF-verified models, policies, threat intelligence, wheels.

Connected side: ``keygen``, ``init_repository``, ``rotate_root``, ``build_bundle``.
Site side: ``TransferService`` (``instance.transfer``) pins the root, imports, approves
and reports status; ``activated_models`` is what the AI registry reads.
"""

from __future__ import annotations

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
from sovra.transfer.signing import KeyFiles, hsm_import, keygen, load_public_key, load_signer
from sovra.transfer.spec import BundleSpec, load_spec
from sovra.transfer.staging import extract_unverified

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
    "root_history",
    "rotate_root",
    "transfer_status",
]
