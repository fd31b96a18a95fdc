"""The dashboard's sections: each read under the action its API route declares.

A section the caller may not read says so instead of its rows (the refusal recorded,
as the API would record it); a section whose room fails shows the error, not a 500.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from sovra.console.guard import Visit
from sovra.continuity import status as continuity_status
from sovra.errors import PermissionDeniedError, SovraError
from sovra.identity import Caller
from sovra.instance import Instance
from sovra.ledger.note import open_checkpoint

Rows = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Section:
    title: str
    rows: Rows
    note: str = ""  # why rows are missing (refused, unavailable)
    link: str = ""  # the page holding the details, relative to the console


def age(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f} {unit}"
    return f"{seconds:.0f} s"


def _when(at: object) -> str:
    if not isinstance(at, int | float):
        return "never"
    return f"{age(time.time() - float(at))} ago"


def _seal(instance: Instance) -> Rows:
    seal = instance.keys.seal_status()
    state = "sealed" if seal.sealed else "unsealed"
    if not seal.initialized:
        state = "not initialised (run sovra init)"
    rows: list[tuple[str, str]] = [("state", state), ("mode", str(seal.mode or "-"))]
    if seal.dev_mode:
        rows.append(("warning", "DEVELOPMENT MODE - NOT FOR PRODUCTION"))
    return tuple(rows)


def _ledger(instance: Instance, _caller: Caller) -> Rows:
    ledger = instance.ledger
    rows: list[tuple[str, str]] = [("entries", f"{ledger.size:,}")]
    try:
        checkpoint, _note, witnesses = open_checkpoint(ledger.latest_checkpoint(),
                                                       ledger.checkpoints.verifier)
    except SovraError:
        rows.append(("checkpoint", ("none signed yet (the server signs one within seconds "
                     "of a write)")))
        return tuple(rows)
    rows.append(("latest checkpoint", (f"size {checkpoint.size:,}, signed by "
                 f"{checkpoint.origin}")))
    rows.append(("witness cosignatures", str(len(witnesses))))
    return tuple(rows)


def _models(instance: Instance, _caller: Caller) -> Rows:
    found = instance.ai.registry.list(approved_only=True)
    return tuple((m.model_id, f"{m.spec.kind}, approved by {m.approved_by or '-'}")
                 for m in found) or (("models", "none approved"),)


def _bundles(instance: Instance, _caller: Caller) -> Rows:
    found = instance.transfer.status()
    rows: list[tuple[str, str]] = [("patch lag", age(found.patch_lag_s)),
                                   ("newest bundle", found.newest_bundle_id or "none")]
    if found.awaiting_approval:
        rows.append(("awaiting approval", ", ".join(found.awaiting_approval)))
    return tuple(rows)


def _approvals(instance: Instance, _caller: Caller) -> Rows:
    found = instance.lockbox.status()
    return (("lockbox requests pending", str(len(found.pending))),
            ("grants active", str(len(found.active))),
            ("findings", "; ".join(found.findings) or "none"))


def _policy(instance: Instance, _caller: Caller) -> Rows:
    versions = instance.policy.versions()
    active = [v.version for v in versions if v.status == "active"]
    proposed = [v.version for v in versions if v.status == "proposed"]
    return (("active version", str(active[-1]) if active else "none"),
            ("proposals awaiting approval", ", ".join(map(str, proposed)) or "none"))


def _continuity(instance: Instance, _caller: Caller) -> Rows:
    found = continuity_status(instance.settings)
    backup = found.last_backup or {}
    drill = found.last_drill or {}
    rows: list[tuple[str, str]] = [
        ("last backup", _when(backup.get("created_at", backup.get("at")))),
        ("last drill", _when(drill.get("finished_at", drill.get("at")))),
    ]
    rows.extend(("warning", w) for w in found.warnings)
    return tuple(rows)


def _threat(instance: Instance, caller: Caller) -> Rows:
    found = instance.threat.status(caller)  # the service decides and records again
    oldest = max((p.age_s for p in found.packs), default=None)
    rows: list[tuple[str, str]] = [("open alerts", str(found.open_alerts)),
                                   ("threat packs", str(len(found.packs))),
                                   ("oldest pack", age(oldest))]
    rows.extend(("warning", w) for w in found.warnings)
    return tuple(rows)


# title, action, resource type, reader, link
_SECTIONS: tuple[tuple[str, str, str, Callable[[Instance, Caller], Rows], str], ...] = (
    ("Ledger", "ledger.read", "Ledger", _ledger, "ledger"),
    ("Approvals", "lockbox.read", "AccessRequest", _approvals, "approvals"),
    ("Models", "models.use", "Model", _models, ""),
    ("Bundles", "bundles.read", "Bundle", _bundles, ""),
    ("Policy", "policy.read", "Policy", _policy, "policy"),
    ("Continuity", "continuity.status", "Continuity", _continuity, ""),
    ("Threats", "threat.read", "Threat", _threat, ""),
)


async def sections(visit: Visit) -> list[Section]:
    """Every section in order; seal state first (public, as ``/sys/seal-status``)."""
    out = [Section("Seal", await run_in_threadpool(_seal, visit.instance))]
    for title, action, resource_type, read, link in _SECTIONS:
        try:
            await visit.require(action, resource_type)
        except PermissionDeniedError:
            out.append(Section(title, (), f"your role may not {action}"))
            continue
        try:
            out.append(Section(title, await run_in_threadpool(read, visit.instance,
                                                              visit.caller), link=link))
        except SovraError as exc:
            out.append(Section(title, (), f"unavailable: {exc}"))
    return out


__all__ = ["Section", "age", "sections"]
