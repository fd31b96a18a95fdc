"""Pin the public surface of each room (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import importlib

import pytest

# room -> names it exports. Adding a name is a deliberate act: update this table.
EXPECTED: dict[str, set[str]] = {
    "sovra": {"SovraError", "__version__"},
    "sovra.store": {"current_heads", "make_engine", "pending", "upgrade"},
    "sovra.ai": {
        "AISettings", "AdmittedChat", "ChatRequest", "ChatResult", "Citation", "Event",
        "Gateway", "ModelRecord", "ModelRegistry", "ModelSpec", "Outcome", "PreparedChat",
        "Trace", "open_gateway",
        "register_builtin_models", "verify_trace",
    },
    "sovra.ledger": {
        "Entry", "Ledger", "Problem", "Receipt", "VerificationResult", "payload_ref",
        "verify_archive",
    },
    "sovra.keys": {
        "DEV_MODE_WARNING", "Ceremony", "CeremonyResult", "Erasure", "HsmConfig", "KeyService",
        "KeyStatus", "KeyringInfo", "MinVersionResult", "RootKey", "SealStatus", "Share",
        "StartupReport", "open_root", "parse_share", "share_file_text", "start_for_up",
        "write_share_files",
    },
    "sovra.identity": {
        "ApiKeyInfo", "Caller", "CreatedKey", "FailureLimiter", "IdentityService",
        "OidcConfig", "OidcVerifier", "Principal", "ensure_first_admin", "open_identity",
    },
    "sovra.policy": {
        "ACTIONS", "ROLES", "Classification", "CompiledPolicies", "Decision", "PolicyService",
        "PolicyVersion", "Resource", "default_policy_text", "open_policy", "principal_ref",
    },
    "sovra.transfer": {
        "APPROVER_ROLE", "ActivatedModel", "BuildResult", "BundleSpec", "ComponentStatus",
        "ImportResult", "KeyFiles", "TargetRecord", "TransferService", "TransferStatus",
        "UnpackLimits", "activated_models", "build_bundle", "extract_unverified",
        "hsm_import", "init_repository", "keygen", "load_public_key", "load_signer", "load_spec",
        "root_history", "rotate_root", "transfer_status",
    },
    "sovra.data": {
        "Collection", "CollectionSpec", "DataService", "DocumentInfo", "Embedder", "Eraser",
        "EraserRegistry", "ErasureRequest", "Hold", "IngestResult", "IngestSummary",
        "RetentionReport", "RetrievedChunk", "open_data", "verify_certificate",
    },
    "sovra.console": {"CONSOLE_PATH", "console_app"},
    "sovra.continuity": {
        "Acceptance", "BackupInfo", "Check", "ContinuityStatus", "DrillReport", "Listed",
        "RestoreResult", "RetentionPlan", "RollbackVerdict", "Verification", "accept_rollback",
        "backup_root", "check_rollback", "create_backup", "list_backups", "prune_backups",
        "refuse_if_held", "restore", "run_drill", "status", "verify_backup",
    },
    "sovra.compliance": {
        "CONTROLS", "REGIMES", "CheckResult", "Claim", "ClockState", "Control",
        "ControlResult", "Deadline", "Finding", "Match", "Status", "check_report",
        "deadlines", "read_report",
    },
    "sovra.assessment.placement": {
        "Placement", "RuleSet", "Target", "Workload", "default_rules", "default_rules_text",
        "load_inventory", "load_rules", "place", "place_all",
    },
    "sovra.assessment.readiness": {
        "CRITERIA", "LAYERS", "OBJECTIVES", "Criterion", "Fact", "Kind", "Status",
    },
    "sovra.threat": {
        "FIELDS", "CompiledPack", "CorrelationRule", "IndicatorSet", "RuleProblem",
        "SingleRule", "compile_pack", "parse_misp", "parse_stix", "project",
    },
    "sovra.data.classify": {
        "DEFAULT_MAPPING", "SECRET_KINDS", "Classification", "ClassificationResult", "Finding",
        "Kind", "LevelMapping", "classify", "decide", "redact", "scan",
    },
    "sovra.analytics": {
        "AnalyticsService", "CheckedQuery", "QueryResult", "TableInfo", "TableRef",
        "check_sql", "open_analytics",
    },
    "sovra.analytics.export": {
        "APPROVALS_NEEDED", "KINDS", "ExportInfo", "ExportReview", "ExportService",
        "VerifiedExport", "open_exports", "verify_export",
    },
}


@pytest.mark.parametrize("module_name", sorted(EXPECTED))
def test_exported_members(module_name: str) -> None:
    module = importlib.import_module(module_name)
    assert set(module.__all__) == EXPECTED[module_name]
    for name in module.__all__:
        assert hasattr(module, name), f"{module_name}.__all__ names missing {name}"
