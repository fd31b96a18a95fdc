"""``sovra audit check``: verify a compliance report offline, with no Sovra server.

Checks, each failure naming what failed: the report's signature (by a pinned key when
``trusted_keys`` are given), each claim against the digest the signature covers, the
checkpoint's log signature and witness cosignatures, every cited entry's RFC 9162
inclusion proof (§2.1.3.2) against the checkpoint's root, and that each claim's count
equals the entries it cites and that each cited entry meets the claim's criteria. Given
the ledger export, also that the cited entries are the exported ones and that each
count equals the matching entries in the whole log (nothing left out).
Reads only the report and the export.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sovra.compliance import document
from sovra.compliance.evidence import MAX_CITES, Match, outcome_of, top_fields
from sovra.errors import ArchiveError, CheckpointError, NoteError, ProofError
from sovra.ledger import ArchivedCheckpoint, merkle, read_archive, verify_contents
from sovra.ledger import entry as entries
from sovra.ledger import note as notes

MAX_REPORT_BYTES = 512 * 1024**2
_ACTION_HEAD = re.compile(rb'\{"action":"([a-z0-9_.]+)"')


@dataclass(frozen=True)
class Problem:
    where: str  # "signature", "checkpoint", "claim <id>", "entry <seq>", "export"
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@dataclass(frozen=True)
class CheckResult:
    origin: str
    claims: int
    entries: int
    findings: int
    checkpoint_size: int
    witnesses: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def valid(self) -> bool:
        return not self.problems


def read_report(path: Path) -> dict[str, Any]:
    """The report's JSON; ``ArchiveError`` (unreadable, exit 3) if it is not one."""
    try:
        if path.stat().st_size > MAX_REPORT_BYTES:
            raise ArchiveError(f"{path} is larger than {MAX_REPORT_BYTES} bytes")
        value = json.loads(path.read_bytes())
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ArchiveError(f"cannot read the report {path}: {exc}") from exc
    if not isinstance(value, dict) or value.get("format") != document.FORMAT:
        raise ArchiveError(f"{path} is not a {document.FORMAT} report")
    for name in ("origin", "checkpoint", "claims", "entries", "signature",
                 "claim_digests", "findings", "controls"):
        if name not in value:
            raise ArchiveError(f"the report {path} has no {name!r}: it is not a complete "
                               "report (was it cut short?)")
    return value


def check_report(doc: Mapping[str, Any], *, trusted_keys: Sequence[str] = (),
                 witnesses: Sequence[str] = (), export: Path | None = None) -> CheckResult:
    """Every check; the verdict lists every problem found, not only the first."""
    problems: list[Problem] = []
    try:
        pinned = [notes.parse_vkey(k) for k in trusted_keys]
        required = [notes.parse_vkey(k) for k in witnesses]
    except NoteError as exc:
        raise ArchiveError(f"a key given on the command line is unreadable: {exc}") from exc
    _signature(doc, pinned, problems)
    claims = _claims(doc, problems)
    size, root, good_witnesses = _checkpoint(doc, pinned, required, problems)
    proven = _entries(doc, size, root, problems)
    for claim_id, claim in claims.items():
        _claim(claim_id, claim, proven, problems)
    notes_out: list[str] = []
    if not pinned:
        notes_out.append("keys were taken from the report itself: pin the report and log "
                         "keys with --trusted-key to rule out a report signed by anyone")
    if export is not None:
        _export(export, doc, claims, proven, size=size, root=root, problems=problems)
    elif any(int(c.get("count", 0)) > len(c.get("cites", ())) for c in claims.values()):
        notes_out.append("some counts cover more entries than their claim cites; give "
                         "--export to check them against the whole log")
    checkpoint = doc.get("checkpoint") or {}
    return CheckResult(str(doc.get("origin", "")), len(claims), len(proven),
                       len(doc.get("findings", ())), int(checkpoint.get("size", 0)),
                       tuple(good_witnesses), tuple(problems), tuple(notes_out))


def _signature(doc: Mapping[str, Any], pinned: list[notes.Verifier],
               problems: list[Problem]) -> None:
    problem = _signature_problem(doc, pinned)
    if problem is not None:
        problems.append(Problem("signature", problem))


def _signature_problem(doc: Mapping[str, Any], pinned: list[notes.Verifier]) -> str | None:
    signature = doc.get("signature")
    if not isinstance(signature, dict):
        return "the report carries no signature"
    try:
        key = notes.parse_vkey(str(signature.get("key", "")))
        if pinned and key not in pinned:
            return (f"the report is signed by {key.name} with a key that is not one of the "
                    "trusted keys")
        note, _ = notes.open_note(str(signature.get("note", "")), [key])
    except NoteError as exc:
        return str(exc)
    expected = document.note_text(str(doc.get("origin", "")), document.signed_digest(doc))
    if note.text != expected:
        return "the signature does not cover this report: it was altered after signing"
    return None


def _claims(doc: Mapping[str, Any], problems: list[Problem]) -> dict[str, dict[str, Any]]:
    digests = doc.get("claim_digests") or {}
    found: dict[str, dict[str, Any]] = {}
    for claim in doc.get("claims") or ():
        if not isinstance(claim, dict) or not isinstance(claim.get("id"), str):
            problems.append(Problem("claims", "a claim without an id"))
            continue
        cid = claim["id"]
        found[cid] = claim
        if digests.get(cid) != document.claim_digest(claim):
            problems.append(Problem(f"claim {cid}", "altered after signing (its digest is "
                                    "not the signed one)"))
    problems.extend(Problem(f"claim {cid}", "signed but missing from the report")
                    for cid in sorted(set(digests) - set(found)))
    problems.extend(Problem(f"finding {f.get('id')}", f"cites claim {cid}, which the "
                            "report lacks")
                    for f in doc.get("findings") or () for cid in f.get("claims", ())
                    if cid not in found)
    return found


def _checkpoint(doc: Mapping[str, Any], pinned: list[notes.Verifier],
                required: list[notes.Verifier],
                problems: list[Problem]) -> tuple[int, bytes, list[str]]:
    cp = doc.get("checkpoint") or {}
    try:
        size, root = int(cp.get("size", -1)), bytes.fromhex(str(cp.get("root_hash", "")))
        log_key = notes.parse_vkey(str(cp.get("log_key", "")))
        embedded = [notes.parse_vkey(str(k)) for k in cp.get("witness_keys", ())]
        checkpoint, _, good = notes.open_checkpoint(str(cp.get("note", "")), log_key,
                                                    required or embedded)
    except (NoteError, CheckpointError, ValueError) as exc:
        problems.append(Problem("checkpoint", f"not a valid signed checkpoint: {exc}"))
        return -1, b"", []
    if pinned and log_key not in pinned:
        problems.append(Problem("checkpoint", f"the checkpoint's log key {log_key.name} is "
                                "not a trusted key"))
    if (checkpoint.size, checkpoint.root_hash) != (size, root):
        problems.append(Problem("checkpoint", f"the checkpoint (size {checkpoint.size}) is "
                                f"not the one the report was made against (size {size})"))
    if checkpoint.origin != doc.get("origin"):
        problems.append(Problem("checkpoint", f"origin {checkpoint.origin!r} is not the "
                                f"report's {doc.get('origin')!r}"))
    problems.extend(Problem("checkpoint", f"no valid cosignature from witness {w.name}")
                    for w in required if w not in good)
    return checkpoint.size, checkpoint.root_hash, [w.name for w in good]


def _entries(doc: Mapping[str, Any], size: int, root: bytes,
             problems: list[Problem]) -> dict[int, dict[str, Any]]:
    """Cited entries whose inclusion proof reaches the checkpoint's root, decoded."""
    proven: dict[int, dict[str, Any]] = {}
    for item in doc.get("entries") or ():
        try:
            seq, value = _proven(item, size, root)
        except (KeyError, TypeError, ValueError, ProofError) as exc:
            where = f"entry {item.get('seq')}" if isinstance(item, dict) else "entry"
            problems.append(Problem(where, f"not proven in the checkpoint's tree: {exc}"))
            continue
        proven[seq] = value
    return proven


def _proven(item: Mapping[str, Any], size: int, root: bytes) -> tuple[int, dict[str, Any]]:
    seq = int(item["seq"])
    body = str(item["body"]).encode("utf-8")
    proof = [bytes.fromhex(p) for p in item["proof"]]
    merkle.verify_inclusion(seq, size, merkle.leaf_hash(body), proof, root)
    entry = entries.decode(body)
    if entry.seq != seq:
        raise ProofError(f"the entry's own seq is {entry.seq}")
    value: dict[str, Any] = json.loads(body)
    return seq, value


def _claim(cid: str, claim: Mapping[str, Any], proven: Mapping[int, Mapping[str, Any]],
           problems: list[Problem]) -> None:
    where = f"claim {cid}"
    try:
        match = Match.from_json(claim["match"])
        count, cites = int(claim["count"]), [int(s) for s in claim["cites"]]
    except (KeyError, TypeError, ValueError) as exc:
        problems.append(Problem(where, f"malformed: {exc}"))
        return
    if len(set(cites)) != len(cites):
        problems.append(Problem(where, "cites an entry twice"))
    if len(cites) != min(count, MAX_CITES):
        problems.append(Problem(where, f"counts {count} entries but cites {len(cites)}"))
    for seq in cites:
        found = proven.get(seq)
        if found is None:
            problems.append(Problem(where, f"cites entry {seq}, which is not proven"))
        elif not match.matches(found):
            problems.append(Problem(where, f"cites entry {seq}, which does not meet its "
                                    f"criteria ({found.get('action')}, "
                                    f"{found.get('outcome')}, {found.get('time')})"))


def _export(path: Path, doc: Mapping[str, Any], claims: Mapping[str, Mapping[str, Any]],
            proven: Mapping[int, Mapping[str, Any]], *, size: int, root: bytes,
            problems: list[Problem]) -> None:
    contents = read_archive(path)
    cp = doc.get("checkpoint") or {}
    verdict = verify_contents(contents, log_key=str(cp.get("log_key", "")),
                              allow_unsigned_tail=True)
    problems.extend(Problem("export", str(p)) for p in verdict.problems[:10])
    bodies = contents.entries.split(b"\n")[:size]
    proven_by_archive = not verdict.problems and _archived_root(contents.checkpoints, size,
                                                                root)
    if len(bodies) < size or not (
            proven_by_archive or merkle.root_of(merkle.leaf_hash_list(bodies)) == root):
        problems.append(Problem("export", f"the export's first {size} entries do not have "
                                "the checkpoint's root: it is another log or was altered"))
        return
    reported = {int(i["seq"]): str(i.get("body", "")).encode()
                for i in doc.get("entries") or () if isinstance(i, dict) and "seq" in i}
    problems.extend(Problem(f"entry {seq}", "differs from the exported entry")
                    for seq in proven if bodies[seq] != reported.get(seq))
    _recount(bodies, claims, problems)


def _archived_root(checkpoints: Sequence[ArchivedCheckpoint], size: int, root: bytes) -> bool:
    """Whether the archive holds a checkpoint of ``size`` with ``root``: a valid archive's
    checkpoints were each checked against its own tree, so the tree need not be hashed
    a second time here."""
    for c in checkpoints:
        if c.tree_size == size:
            try:
                return notes.parse_checkpoint(notes.parse_note(c.note).text).root_hash == root
            except (NoteError, CheckpointError):
                return False
    return False


def _count_opened(body: bytes, wanted: list[tuple[str, Match]],
                  counts: dict[str, int]) -> None:
    fields = None if any(m.details for _, m in wanted) else top_fields(body)
    if fields is None:  # details needed, or not canonical in shape: decode it whole
        fields = json.loads(body)
    for cid, match in wanted:
        if match.matches(fields):
            counts[cid] += 1


def _recount(bodies: Sequence[bytes], claims: Mapping[str, Mapping[str, Any]],
             problems: list[Problem]) -> None:
    by_action: dict[str, list[tuple[str, Match]]] = {}
    for cid, claim in claims.items():
        try:
            match = Match.from_json(claim["match"])
        except (KeyError, TypeError, ValueError):
            continue
        for action in match.actions:
            by_action.setdefault(action, []).append((cid, match))
    counts = dict.fromkeys(claims, 0)
    # Claims that filter only on outcome and time are tested inline on two slices of the
    # bytes; the others get the fields they filter on (actor and resource, or details).
    plain = {a: [(cid, frozenset(m.outcomes), m.since, m.until) for cid, m in w
                 if not (m.resource or m.actor or m.details)] for a, w in by_action.items()}
    other = {a: [(cid, m) for cid, m in w if m.resource or m.actor or m.details]
             for a, w in by_action.items()}
    for body in bodies:
        head = _ACTION_HEAD.match(body)
        if head is None:
            continue
        action = head.group(1).decode("ascii")
        if action not in by_action:
            continue
        outcome, when = outcome_of(body), body[-29:-2].decode("ascii", "replace")
        for cid, outcomes, since, until in plain[action]:
            if ((not outcomes or outcome in outcomes) and (not since or when >= since)
                    and (not until or when < until)):
                counts[cid] += 1
        if other[action]:
            _count_opened(body, other[action], counts)
    problems.extend(Problem(f"claim {cid}", f"counts {claim.get('count')} entries but the "
                            f"exported log holds {counts[cid]} that meet it")
                    for cid, claim in claims.items() if counts[cid] != claim.get("count"))


__all__ = ["CheckResult", "Problem", "check_report", "read_report"]
