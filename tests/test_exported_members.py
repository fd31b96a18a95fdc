"""Pin the public surface of each room (httpx tests/test_exported_members.py)."""

from __future__ import annotations

import importlib

import pytest

# room -> names it exports. Adding a name is a deliberate act: update this table.
EXPECTED: dict[str, set[str]] = {
    "sovra": {"SovraError", "__version__"},
    "sovra.store": {
        "ChangeFeed", "current_heads", "make_engine", "mark_external_database", "pending",
        "upgrade",
    },
    "sovra.ai": {
        "DEMO_EXAMPLE", "ERASER_NAME", "SMOLLM2_ID", "AISettings", "AdmissionMiddleware",
        "AdmittedChat", "ChatMessage", "ChatRequest", "ChatResult", "Citation",
        "Delta", "EntryFields", "Event", "Gateway", "GatewayPrincipal", "GenerationParams",
        "ModelRecord", "ModelRegistry", "ModelSpec", "Outcome", "PreparedChat",
        "SharedQuotas", "Trace", "TracedEntry", "demo_caller", "kept_text_eraser",
        "load_demo", "open_gateway", "register_builtin_models", "verify_trace",
    },
    "sovra.ledger": {
        "ArchivedCheckpoint", "Entry", "EntryRow", "Ledger", "LedgerStore", "Problem",
        "Receipt", "VerificationResult", "payload_ref", "read_archive", "read_private",
        "verify_archive", "verify_contents", "write_private",
    },
    "sovra.keys": {
        "DEV_MODE_WARNING", "Ceremony", "CeremonyResult", "Erasure", "HsmConfig",
        "KeyService", "KeyStatus", "KeyringInfo", "MinVersionResult", "RootKey",
        "SealStatus", "Share", "StartupReport", "dev_share_path", "framed", "open_root",
        "parse_share", "share_file_text", "start_for_up", "wipe", "write_share_files",
    },
    "sovra.identity": {
        "ApiKeyInfo", "Caller", "CreatedKey", "FailureLimiter", "IdentityService",
        "OidcConfig", "OidcVerifier", "PendingChange", "Principal", "ensure_first_admin",
        "open_identity",
    },
    "sovra.policy": {
        "ACTIONS", "ROLES", "Classification", "CompiledPolicies", "Decision",
        "PolicyService", "PolicyVersion", "Resource", "TestReport", "default_policy_text",
        "open_policy", "principal_ref", "run_cases", "run_test_file",
    },
    "sovra.transfer": {
        "APPROVER_ROLE", "ActivatedModel", "BuildResult", "BundleSpec", "ComponentStatus",
        "ImportResult", "KeyFiles", "TargetRecord", "TransferService", "TransferStatus",
        "UnpackLimits", "activated_models", "build_bundle", "extract_unverified",
        "hsm_import", "init_repository", "keygen", "load_public_key", "load_signer",
        "load_spec", "pending_bundle", "root_history", "rotate_root", "transfer_status",
    },
    "sovra.data": {
        "EMBEDDING_MODEL_ID", "EMBEDDING_MODEL_SHA256", "FRAMING_ALLOWANCE", "SHEET_MARK",
        "ChunkingConfig", "Collection", "CollectionSpec", "DataService", "DocumentInfo",
        "Embedder", "Eraser", "EraserRegistry", "ErasureRequest", "Hold", "IngestResult",
        "IngestSummary", "RetentionReport", "RetrievedChunk", "StoredDocument",
        "chunk_text", "collection_ids", "document_plaintext", "embedding_model_files",
        "expand", "latest_documents", "open_data", "receive_upload", "verify_certificate",
    },
    "sovra.console": {"CONSOLE_PATH", "console_app"},
    "sovra.continuity": {
        "Acceptance", "BackupInfo", "BackupSchedule", "Check", "ContinuityStatus",
        "DrillReport", "Listed", "RestoreResult", "RetentionPlan", "RollbackVerdict",
        "Verification", "accept_rollback", "backup_root", "check_rollback", "create_backup",
        "list_backups", "prune_backups", "refuse_if_held", "refuse_if_unwritable",
        "restore", "run_drill", "status", "verify_backup",
    },
    "sovra.compliance": {
        "CONTROLS", "INCIDENT_OPEN", "REGIMES", "CheckResult", "Claim", "ClockState",
        "Control", "ControlResult", "Deadline", "Finding", "Incident", "IncidentRegister",
        "Match", "Status", "check_report", "deadlines", "draft_notification", "draft_pdf",
        "generate_report", "parse_time", "read_report", "rfc3339", "signed_digest",
        "subject_report",
    },
    "sovra.assessment.placement": {
        "Placement", "RuleSet", "Target", "Workload", "advise", "default_rules",
        "default_rules_text", "load_inventory", "load_rules", "place", "place_all",
    },
    "sovra.assessment.readiness": {
        "CRITERIA", "LAYERS", "OBJECTIVES", "Criterion", "Fact", "Kind", "Status",
        "check_document", "diff_documents", "questionnaire_template", "readiness_digest",
        "run_readiness",
    },
    "sovra.threat": {
        "FIELDS", "CompiledPack", "CorrelationRule", "IndicatorSet", "RuleProblem",
        "SingleRule", "ThreatService", "compile_pack", "parse_misp", "parse_stix",
        "project", "send_syslog", "stix_sighting", "write_json_lines",
    },
    "sovra.data.classify": {
        "DEFAULT_MAPPING", "SECRET_KINDS", "Classification", "ClassificationResult", "Finding",
        "Kind", "LevelMapping", "classify", "decide", "redact", "scan",
    },
    "sovra.analytics": {
        "MEDIA_TYPE", "AnalyticsService", "CheckedQuery", "ExportInfo", "ExportService",
        "GatewayProposer", "QueryResult", "TableInfo", "TableRef", "VerifiedExport",
        "check_sql", "open_analytics", "open_exports", "result_arrow", "room_sources",
        "verify_export",
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
