"""The one exception tree of Sovra, rooted by cause.

Library code raises these; the CLI and the HTTP API translate them into messages, exit
codes and status codes in exactly one place each (``sovra.cli.errors`` and
``sovra.api.errors``). Third-party exceptions are translated at the boundary with
``raise ... from exc`` so callers never need to know which library failed.

::

    SovraError
    ├── ConfigError                 bad settings, data directory, database URL
    ├── ServerUnreachableError      no Sovra server answers at the URL (CLI to server)
    ├── StorageError                the database could not do what was asked
    │   ├── MigrationError
    │   ├── StorageBusyError        a lock or statement wait ran out: retry (HTTP 503)
    │   └── StorageUnavailableError the database cannot be reached now (HTTP 503)
    ├── LedgerError
    │   ├── LedgerUnavailableError  cannot record durably: the action must not happen
    │   ├── ProofError              malformed or out-of-range proof request / proof
    │   ├── NoteError               malformed, oversized or unverifiable signed note
    │   ├── CheckpointError         checkpoint inconsistent with one signed before
    │   └── ArchiveError            export archive unreadable (not: invalid)
    ├── KeyCustodyError
    │   ├── SealedError             the instance is sealed: nothing decrypts
    │   ├── ShareError              wrong, duplicate, corrupted or foreign share
    │   ├── HsmError                PKCS#11 token missing, wrong PIN, operation failed
    │   ├── KeyDestroyedError       crypto-erased: the data is gone for good
    │   └── DecryptionError         tampered ciphertext, wrong associated data, truncation
    ├── AuthError
    │   ├── AuthenticationError     no or bad credential (HTTP 401)
    │   ├── RateLimitedError        too many failed attempts (HTTP 429)
    │   └── PermissionDeniedError   policy said no; carries the decision (HTTP 403)
    ├── PolicyError
    │   └── PolicyValidationError   syntax or schema error, with its position
    ├── NotFoundError               a named thing does not exist (HTTP 404)
    ├── ConflictError               it exists already / wrong state (HTTP 409)
    ├── InvalidInputError           the caller sent something unusable (HTTP 400/422)
    ├── DataError
    │   ├── ParseError              one file could not be parsed (per-file, ingest goes on)
    │   ├── FileTooLargeError
    │   ├── LegalHoldError          deletion blocked by a legal hold
    │   ├── QuarantinedError        matched a YARA rule or indicator: held, not indexed
    │   └── ErasureCertificateError erasure certificate's key or signature does not verify
    ├── TransferError
    │   ├── BundleVerificationError signatures, threshold, expiry, rollback, hashes
    │   └── UnsafeArchiveError      traversal, links, bombs, duplicates, truncation
    ├── ContinuityError
    │   ├── BackupIntegrityError    altered, truncated, foreign or wrongly signed backup
    │   └── RollbackHoldError       restored log older than a witnessed checkpoint: held
    └── AIError
        ├── ModelNotFoundError
        ├── ModelIntegrityError     weights do not match the registered SHA-256
        ├── ClassificationRefusedError  model not approved for the data's classification
        ├── QuotaExceededError      per-principal quota or concurrency limit (HTTP 429)
        ├── OverloadedError         shedding load (HTTP 503)
        └── UpstreamError           upstream hung, failed or returned garbage (HTTP 502)
            └── UpstreamUnavailableError  upstream down: nothing listens (HTTP 503)
"""

from __future__ import annotations


class SovraError(Exception):
    """Root of every error Sovra raises on purpose."""


class ConfigError(SovraError):
    """Settings are missing or invalid; the message names the setting and the fix."""


class ServerUnreachableError(SovraError):
    """No Sovra server answers at the URL a CLI command talks to; the message names the
    URL and how to start the server or point at another one."""


class StorageError(SovraError):
    """The database could not complete an operation."""


class MigrationError(StorageError):
    """Schema migrations could not be applied."""


class StorageBusyError(StorageError):
    """Another session held a lock (or a statement ran) past the bounded wait; nothing
    was changed, and the same request may succeed after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StorageUnavailableError(StorageError):
    """The database cannot be reached (restarting, connection lost): the operation did
    not complete, and may succeed once it is back, after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class LedgerError(SovraError):
    """Base for ledger failures."""


class LedgerUnavailableError(LedgerError):
    """The ledger cannot record durably; the caller must not perform the action."""


class ProofError(LedgerError):
    """A proof or proof request is malformed, of the wrong length or out of range."""


class NoteError(LedgerError):
    """A signed note is malformed, oversized, or carries no verifiable signature."""


class CheckpointError(LedgerError):
    """A checkpoint is malformed or inconsistent with one the log signed before."""


class ArchiveError(LedgerError):
    """An export archive cannot be read at all (as opposed to being invalid)."""


class KeyCustodyError(SovraError):
    """Base for key custody failures."""


class SealedError(KeyCustodyError):
    """The instance is sealed; unseal it with the custodians' shares or the HSM."""


class ShareError(KeyCustodyError):
    """A key share is wrong, duplicated, corrupted or from another ceremony."""


class HsmError(KeyCustodyError):
    """The PKCS#11 token is missing, the PIN is wrong, or an operation failed."""


class KeyDestroyedError(KeyCustodyError):
    """The key was crypto-erased; data under it can never be decrypted again."""


class DecryptionError(KeyCustodyError):
    """Ciphertext failed authentication: tampered, truncated, or wrong associated data."""


class AuthError(SovraError):
    """Base for authentication and authorization failures."""


class AuthenticationError(AuthError):
    """No credential, or a credential that does not verify."""


class RateLimitedError(AuthError):
    """Too many failed authentication attempts from this source."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class PermissionDeniedError(AuthError):
    """Policy denied the request; ``reasons`` lists the deciding policies or errors."""

    def __init__(self, message: str, reasons: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.reasons = reasons


class PolicyError(SovraError):
    """Base for policy failures."""


class PolicyValidationError(PolicyError):
    """A policy does not parse or does not validate against the schema."""


class NotFoundError(SovraError):
    """A named object does not exist."""


class ConflictError(SovraError):
    """The object exists already or is in a state that forbids the operation."""


class InvalidInputError(SovraError):
    """The caller supplied unusable input; the message says what and how to fix it."""


class DataError(SovraError):
    """Base for data-layer failures."""


class ParseError(DataError):
    """A file could not be parsed into text."""


class FileTooLargeError(DataError):
    """A file exceeds the configured size limit."""


class LegalHoldError(DataError):
    """Deletion is blocked by a legal hold."""


class QuarantinedError(DataError):
    """Content matched a threat rule (YARA) or indicator (a known-bad SHA-256): it was
    quarantined, so it is neither indexed nor activated, and an alert was raised."""


class ErasureCertificateError(DataError):
    """An erasure certificate was signed by another key than the pinned one, or its
    signature does not verify: the certificate proves nothing."""


class TransferError(SovraError):
    """Base for air-gap bundle failures."""


class BundleVerificationError(TransferError):
    """A bundle failed verification; nothing from it was activated."""


class UnsafeArchiveError(TransferError):
    """An archive member is unsafe to unpack; nothing from it was kept."""


class ContinuityError(SovraError):
    """Base for backup, restore and drill failures (sovra.continuity)."""


class BackupIntegrityError(ContinuityError):
    """A backup is altered, truncated, from another instance or signed by an unknown key."""


class RollbackHoldError(ContinuityError):
    """A restored instance is held: its log is older than (or forks from) a checkpoint
    known outside the backup, and no approver has accepted that yet."""


class AIError(SovraError):
    """Base for AI gateway failures."""


class ModelNotFoundError(AIError):
    """No registered model has that id."""


class ModelIntegrityError(AIError):
    """Model weights do not match their registered SHA-256."""


class ClassificationRefusedError(AIError):
    """The model is not approved for the request's effective classification."""


class QuotaExceededError(AIError):
    """A per-principal quota or concurrency limit is exhausted."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class OverloadedError(AIError):
    """The gateway is shedding load; retry later."""

    def __init__(self, message: str, retry_after_s: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class UpstreamError(AIError):
    """An upstream model server hung, failed or returned garbage."""


class UpstreamUnavailableError(UpstreamError):
    """The upstream model server is down (the connection was refused or could not be
    made, after the retries): a temporary outage, not a bad answer (issue 17)."""

    retry_after_s = 5.0
