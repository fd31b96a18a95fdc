"""``sovra continuity drill`` and ``status``: prove a restore works, and measure it.

A drill backs the live instance up, restores the backup into scratch (a segregated data
directory, DORA Art. 12(2)), opens it as a second instance and checks it as an operator
would: SQLite's integrity check, the ledger (consistent with the live log, and verified
offline from an export), a sample of documents decrypted, one retrieval query, and one
chat request through the restored instance's gateway with the bundled model (when the
model is not installed, the check says "not evidenced": it neither passes nor fails,
and the report says so; it is never counted as a success). RTO is
the time from the start of the restore until that query answers; RPO is the age of the
last backed-up ledger entry against the last entry the live instance acknowledged. The
report is a JSON file and a ledger entry; ``status`` warns when no drill ran in 12 months
(DORA Art. 11(6): continuity plans tested at least yearly).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sovra.config import Settings
from sovra.continuity import backup, manifest, postgres, state
from sovra.continuity.restore import restore, restored_settings
from sovra.errors import InvalidInputError, SovraError
from sovra.identity import Caller
from sovra.instance import Instance, open_instance
from sovra.ledger import merkle, verify_archive

YEAR_S = 365 * 86400.0
SAMPLE_DOCUMENTS = 3


@dataclass(frozen=True)
class Check:
    name: str
    passed: bool
    detail: str
    # False: the drill could not run this check here (say, no bundled model installed);
    # such a check has passed=False, is left out of the verdict and named in the report.
    evidenced: bool = True


@dataclass(frozen=True)
class DrillReport:
    drill_id: str
    started_at: float
    backup_id: str
    rto_s: float
    rpo_s: float | None
    entries_not_in_backup: int
    rto_target_s: float
    rpo_target_s: float
    checks: tuple[Check, ...]
    passed: bool
    report_path: str = ""
    notes: tuple[str, ...] = field(default=())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _ok(name: str, detail: str) -> Check:
    return Check(name, passed=True, detail=detail)


def _failed(name: str, detail: str) -> Check:
    return Check(name, passed=False, detail=detail)


def _not_evidenced(name: str, detail: str) -> Check:
    return Check(name, passed=False, detail=f"not evidenced: {detail}", evidenced=False)


def _entry_time(text: str | None) -> float | None:
    if text is None:
        return None
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def _live_last_time(instance: Instance) -> str | None:
    tail = instance.ledger.tail(1)
    if not tail:
        return None
    return manifest.entry_time(bytes(tail[0].body))


def _dev_shares(instance: Instance) -> list[str]:
    from sovra.keys import dev_share_path

    ceremony = instance.keys.custody.ceremony
    if ceremony is None or not ceremony.dev_mode:
        return []
    return [dev_share_path(instance.keys).read_text(encoding="ascii")]


def run_drill(instance: Instance, *, actor: str, shares: Sequence[str] = (),
              scratch: Path | None = None, keep: bool = False,
              scratch_database_url: str | None = None,
              clock: Callable[[], float] = time.time,
              monotonic: Callable[[], float] = time.monotonic) -> DrillReport:
    """Back up, restore into scratch, verify, measure; report and record the result.

    The cluster profile restores into ``scratch_database_url``, a new, empty PostgreSQL
    database (segregated from the live one), emptied again afterwards unless ``keep``.
    """
    settings = instance.settings
    _check_scratch_database(settings, scratch_database_url)
    started_at = clock()
    made = backup.create(instance, actor=actor)
    drill_id = f"drill-{made.backup_id}"
    scratch_root = scratch or state.room_dir(settings.data_dir) / state.TMP_DIR / drill_id
    target = scratch_root / "restored"
    checks: list[Check] = []
    live_size = instance.ledger.size
    live_root = instance.ledger.root(live_size)
    live_time = _live_last_time(instance)
    head = made.ledger
    rpo = None
    if head.last_entry_time and live_time:
        rpo = max(0.0, (_entry_time(live_time) or 0.0) - (_entry_time(head.last_entry_time)
                                                           or 0.0))
    t0 = monotonic()
    rto: float | None = None
    try:
        scratch_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        restored = restore(made.path, target, trusted=instance.ledger.checkpoints.verifier,
                           shares=[*shares, *_dev_shares(instance)], checkpoint=None,
                           actor=actor, database_url=scratch_database_url)
        checks.append(_ok("restore", f"{restored.files} files, {restored.size_bytes} "
                            "bytes, manifest and every hash verified"))
        checks.append(_consistency(instance, head.size, restored.ledger_root, live_size,
                                   live_root))
        # The drill reads the scratch copy's documents itself and keeps only counts, so
        # that private copy's lockbox is off (ADR 0700 addendum); the live one's is not.
        opened = open_instance(restored_settings(target, scratch_database_url).model_copy(
            update={"lockbox_enforced": False}))
        try:
            for share in shares:
                if opened.keys.seal_status().sealed:
                    opened.keys.submit_share(share, actor=actor)
            with contextlib.suppress(SovraError):  # share the loaded model if there is one
                opened.data.use_embedder(instance.data.embedder)
            checks.extend(_documents(opened))
            # Serving: restored, opened, unsealed, answering a query. The checks below
            # verify more than serving needs, so they are outside the RTO.
            rto = monotonic() - t0
            checks.append(_integrity(target / backup.DB_NAME) if scratch_database_url is None
                          else _database_readable(opened, head.size))
            checks.append(_chat(opened, _admin(opened)))
            checks.append(_ledger_offline(opened, scratch_root))
        finally:
            opened.close()
    except SovraError as exc:
        checks.append(_failed("restore", f"{type(exc).__name__}: {exc}"))
    finally:
        if not keep:
            shutil.rmtree(scratch_root, ignore_errors=True)
            if scratch_database_url is not None:
                with contextlib.suppress(SovraError):  # it may never have been loaded
                    postgres.empty(scratch_database_url)
    passed = all(c.passed for c in checks if c.evidenced) and rto is not None
    report = DrillReport(
        drill_id, started_at, made.backup_id, -1.0 if rto is None else round(rto, 3),
        None if rpo is None else round(rpo, 3), live_size - head.size,
        settings.continuity_rto_target_s, settings.continuity_rpo_target_s, tuple(checks),
        passed, notes=tuple(f"{c.name}: {c.detail}" for c in checks if not c.evidenced))
    return _record(instance, report, actor)


def _record(instance: Instance, report: DrillReport, actor: str) -> DrillReport:
    data_dir = instance.settings.data_dir
    path = state.room_dir(data_dir) / state.REPORTS_DIR / f"{report.drill_id}.json"
    report = DrillReport(**{**report.__dict__, "report_path": str(path)})
    instance.ledger.append(actor, "continuity.drill", f"continuity/drill/{report.drill_id}",
                           "success" if report.passed else "failure",
                           {"backup_id": report.backup_id, "rto_s": report.rto_s,
                            "rpo_s": report.rpo_s, "passed": report.passed,
                            "failed_checks": [c.name for c in report.checks
                                              if c.evidenced and not c.passed],
                            "not_evidenced": [c.name for c in report.checks
                                              if not c.evidenced]})
    state.write_json(path, report.to_json())
    state.update_state(data_dir, last_drill={
        "drill_id": report.drill_id, "at": report.started_at, "rto_s": report.rto_s,
        "rpo_s": report.rpo_s, "passed": report.passed, "report": str(path)})
    return report


def _consistency(instance: Instance, size: int, restored_root: bytes, live_size: int,
                 live_root: bytes) -> Check:
    """RFC 9162 §2.1.4: the restored log is a prefix of the live one, not another history."""
    try:
        proof = instance.ledger.consistency_proof(size, live_size)
        merkle.verify_consistency(size, live_size, restored_root, live_root, proof)
    except SovraError as exc:
        return _failed("ledger-consistency", f"{type(exc).__name__}: {exc}")
    return _ok("ledger-consistency", f"restored log (size {size}) is consistent with "
                 f"the live log (size {live_size})")


def _check_scratch_database(settings: Settings, url: str | None) -> None:
    if settings.profile == "cluster" and url is None:
        raise InvalidInputError("a drill of the cluster profile restores into a separate "
                                "PostgreSQL database: give --scratch-database-url of a new, "
                                "empty database (it is emptied again after the drill)")
    if settings.profile != "cluster" and url is not None:
        raise InvalidInputError("this instance is of the embedded profile: its drill "
                                "restores into a scratch data directory; drop "
                                "--scratch-database-url")
    if url is not None:
        postgres.require_empty(url)  # before the backup: nothing is made for a bad target


def _database_readable(opened: Instance, backed_up: int) -> Check:
    """PostgreSQL: every table of the restored database reads in full (a sequential
    scan of each heap), and it holds the backed-up log's rows."""
    try:
        counts = postgres.table_rows(opened.engine)
    except SovraError as exc:
        return _failed("database-readable", f"{type(exc).__name__}: {exc}")
    entries = counts.get("ledger_entries", 0)
    return Check("database-readable", entries >= backed_up,
                 f"{len(counts)} tables read in full, {sum(counts.values())} rows, "
                 f"{entries} ledger entries (backed up: {backed_up})")


def _integrity(db: Path) -> Check:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        answer = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    finally:
        conn.close()
    return Check("sqlite-integrity", answer == ["ok"], "; ".join(answer)[:500])


def _admin(opened: Instance) -> Caller | None:
    admins = sorted(p.principal_id for p in opened.identity.list_principals()
                    if "admin" in p.roles and not p.disabled)
    return opened.identity.caller_for(admins[0], via="continuity drill") if admins else None


def _documents(opened: Instance) -> list[Check]:
    """Decrypt a sample of documents, then ask one retrieval query about the first."""
    caller = _admin(opened)
    if caller is None:
        return [_ok("documents", "no administrator and no documents to sample")]
    texts: list[str] = []
    try:
        for collection in opened.data.list_collections(caller):
            for doc in opened.data.list_documents(caller, collection.id):
                if len(texts) >= SAMPLE_DOCUMENTS:
                    break
                texts.append(opened.data.read_document(caller, doc.id)[2])
        if not texts:
            return [_ok("documents", "the instance holds no documents to sample")]
        query = " ".join(texts[0].split()[:12]) or "document"
        hits = opened.data.retrieve(caller, query, k=3)
    except SovraError as exc:
        return [_failed("documents", f"{type(exc).__name__}: {exc}")]
    return [_ok("documents-decrypt", f"{len(texts)} documents decrypted"),
            Check("retrieval", bool(hits), f"{len(hits)} hits for one query")]


CHAT_PROMPT = "This is a restore drill. Reply with the word: ready."


def _chat(opened: Instance, caller: Caller | None) -> Check:
    """One chat request through the restored (scratch) instance's gateway, with the
    bundled model: the same operation the OpenAI route runs, governed and recorded in
    the scratch copy's ledger. Model missing: not evidenced, never a success."""
    from sovra.ai import (
        SMOLLM2_ID,
        ChatMessage,
        ChatRequest,
        GenerationParams,
        register_builtin_models,
    )
    from sovra.errors import ModelNotFoundError

    if caller is None:
        return _not_evidenced("chat", "the restored instance has no administrator to ask as")
    try:
        # Registering the bundled model touches only the private scratch copy.
        register_builtin_models(opened.ai)
    except ModelNotFoundError as exc:
        return _not_evidenced("chat", f"the bundled model is not installed here ({exc})")
    request = ChatRequest(SMOLLM2_ID, (ChatMessage("user", CHAT_PROMPT),),
                          GenerationParams(max_tokens=8, temperature=0.0, seed=0))

    async def ask() -> tuple[str, str, int]:
        try:
            async with opened.ai.chat(caller, None, request) as chat:
                result = await chat.complete()
                return chat.request_id, result.text, result.usage.completion_tokens
        finally:
            await opened.ai.aclose()

    try:
        request_id, text, tokens = asyncio.run(ask())
    except SovraError as exc:
        return _failed("chat", f"{SMOLLM2_ID}: {type(exc).__name__}: {exc}")
    if tokens < 1 or not text.strip():
        return _failed("chat", f"{SMOLLM2_ID} answered nothing (request {request_id})")
    return _ok("chat", f"{SMOLLM2_ID} answered {tokens} tokens through the restored "
                       f"instance's gateway (request {request_id}, recorded in its ledger)")


def _ledger_offline(opened: Instance, scratch: Path) -> Check:
    archive = scratch / "ledger-export"
    try:
        opened.ledger.export(archive)
        result = verify_archive(archive, log_key=opened.ledger.checkpoints.verifier.vkey)
    except SovraError as exc:
        return _failed("ledger-verify", f"{type(exc).__name__}: {exc}")
    return Check("ledger-verify", result.valid,
                 f"{result.entries} entries verified offline" if result.valid
                 else str(result.problems[0] if result.problems else "invalid"))


# -- status ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ContinuityStatus:
    last_backup: dict[str, Any] | None
    last_drill: dict[str, Any] | None
    rto_target_s: float
    rpo_target_s: float
    held: dict[str, Any] | None
    warnings: tuple[str, ...]


def status(settings: Settings, *, now: float | None = None) -> ContinuityStatus:
    now = time.time() if now is None else now
    found = state.load_state(settings.data_dir)
    last_backup, last_drill = found.get("last_backup"), found.get("last_drill")
    held = state.read_hold(settings.data_dir)
    warnings = []
    if last_backup is None:
        warnings.append("no backup was ever made: run `sovra backup create`")
    if last_drill is None:
        warnings.append("no restore drill ever ran: run `sovra continuity drill` (DORA Art. "
                        "11(6) asks for a test at least yearly)")
    else:
        if now - float(last_drill["at"]) > YEAR_S:
            warnings.append("no restore drill in the last 12 months: run `sovra continuity "
                            "drill`")
        if not last_drill.get("passed"):
            warnings.append(f"the last drill failed (see {last_drill.get('report')})")
        rto = last_drill.get("rto_s")
        if isinstance(rto, int | float) and rto > settings.continuity_rto_target_s:
            warnings.append(f"measured RTO {rto:.1f} s exceeds the target "
                            f"{settings.continuity_rto_target_s:.0f} s")
        rpo = last_drill.get("rpo_s")
        if isinstance(rpo, int | float) and rpo > settings.continuity_rpo_target_s:
            warnings.append(f"measured RPO {rpo:.1f} s exceeds the target "
                            f"{settings.continuity_rpo_target_s:.0f} s")
    if held is not None:
        warnings.append(f"HELD after a restore: {held.get('reason')}")
    return ContinuityStatus(last_backup, last_drill, settings.continuity_rto_target_s,
                            settings.continuity_rpo_target_s, held, tuple(warnings))
