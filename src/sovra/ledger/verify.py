"""Offline verification of an export archive: no database, no network, no instance.

The verifier recomputes every leaf hash and the whole tree from the entry bytes, checks
every checkpoint's signature (C2SP signed note) and root against the recomputed tree,
the consistency of successive checkpoints (RFC 9162 §2.1.4), and every witness
cosignature (C2SP tlog-cosignature). Problems are values that name the first bad entry
or checkpoint and what is wrong; only an archive that cannot be read at all raises
(``ArchiveError``).

The origin is the log's name (c2sp.org/tlog-checkpoint): the first line of every
checkpoint, and the name of the log key, which the key ID and so every signature
cover. The manifest's ``origin`` is covered by nothing, so it is never reported as
such: the result's origin is the log key's name, which every verified checkpoint
carries, and a manifest that names another origin is a problem (a relabelled archive).

Speed: the pass is a few C-level ``map`` pipelines over the entry bytes (spread over
one process per usable CPU for large archives, docs/adr/0105); a per-entry Python loop
runs only to name what is wrong once a fast check failed, over entries no checkpoint
covers, or when ``deep=True`` asks for every entry to be parsed and checked for
canonical form.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sovra.errors import CheckpointError, NoteError, ProofError
from sovra.ledger import merkle
from sovra.ledger import note as notes
from sovra.ledger.archive import ENTRIES, ArchiveContents, read_archive
from sovra.ledger.entry import TAIL, decode
from sovra.ledger.parallel import build_tree, default_workers
from sovra.ledger.tree import HashTree

MAX_PROBLEMS = 50


@dataclass(frozen=True)
class Problem:
    """One thing wrong: where (entry, checkpoint, cosignature, archive), which, and what."""

    where: str
    position: int | None
    message: str

    def __str__(self) -> str:
        at = f" {self.position}" if self.position is not None else ""
        return f"{self.where}{at}: {self.message}"


@dataclass(frozen=True)
class VerificationResult:
    """The verdict with its reasons; ``problems[0]`` is the first bad thing found.

    ``origin`` is the signed one (the log key's name, carried by every verified
    checkpoint), never the manifest's word. ``processes`` is how many processes hashed
    the tree: not part of the verdict, which is the same whatever the number.
    """

    origin: str
    log_key: str
    entries: int
    root_hash: bytes
    checkpoints_verified: int
    latest_checkpoint: int
    witnesses: dict[str, int] = field(default_factory=dict)
    problems: tuple[Problem, ...] = ()
    processes: int = field(default=1, compare=False)

    @property
    def valid(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> Problem | None:
        return self.problems[0] if self.problems else None

    @property
    def unsigned_entries(self) -> int:
        """Entries after the newest valid checkpoint: present, but not yet signed."""
        return max(0, self.entries - self.latest_checkpoint)


def verify_archive(path: Path | str, *, log_key: str | None = None,
                   witnesses: Sequence[str] = (), deep: bool = False,
                   allow_unsigned_tail: bool = False,
                   workers: int = 0) -> VerificationResult:
    """Verify an export archive offline.

    ``log_key`` pins the log's verifier key, ``<origin>+<key ID>+<base64 key>``: the
    name in it is the origin every checkpoint must carry (otherwise the archive's own
    key is used and reported, for the auditor to compare; ``note.parse_pinned_key``
    builds one from a bare key and an origin); ``witnesses`` are verifier keys whose
    cosignatures the auditor requires. Entries after the newest checkpoint are unproven
    and count as a problem unless ``allow_unsigned_tail``. Raises ``ArchiveError`` only
    if the archive is unreadable. ``workers`` > 1 hashes large archives in that many
    processes; 0 (the default) uses one per usable CPU for archives of at least
    ``parallel.MIN_PARALLEL_ENTRIES`` entries when forking is safe (no other thread in
    this process), else one (``sovra.ledger.parallel``). The verdict is the same.
    """
    contents = read_archive(Path(path), digest_entries=False)
    digests = dict(contents.member_digests)

    def digest_entries() -> None:
        digests[ENTRIES] = hashlib.sha256(contents.entries).hexdigest()

    # The SHA-256 of the whole entries member is one sequential pass; it runs in this
    # process while forked workers hash their share of the lines (ADR 0105).
    return _verify(contents, digests, log_key=log_key, witnesses=witnesses, deep=deep,
                   allow_unsigned_tail=allow_unsigned_tail, workers=workers,
                   alongside=digest_entries)


def verify_contents(contents: ArchiveContents, *, log_key: str | None = None,
                    witnesses: Sequence[str] = (), deep: bool = False,
                    allow_unsigned_tail: bool = False,
                    workers: int = 0) -> VerificationResult:
    """``verify_archive`` on contents already read (bytes and values in)."""
    return _verify(contents, contents.member_digests, log_key=log_key, witnesses=witnesses,
                   deep=deep, allow_unsigned_tail=allow_unsigned_tail, workers=workers)


def _verify(contents: ArchiveContents, digests: dict[str, str], *, log_key: str | None,
            witnesses: Sequence[str], deep: bool, allow_unsigned_tail: bool, workers: int,
            alongside: Callable[[], None] | None = None) -> VerificationResult:
    """``alongside`` runs while the tree is hashed and may complete ``digests``."""
    problems: list[Problem] = []
    verifier = _log_verifier(contents, log_key, problems)
    digest_problems_at = len(problems)
    data = _entry_data(contents, problems)
    # Roughly 100 bytes per entry at least: decides on workers without counting lines.
    built = build_tree(data, default_workers(len(data) // 100) if workers == 0 else workers,
                       alongside=alongside)
    tree = built.tree
    problems[digest_problems_at:digest_problems_at] = [
        Problem("archive", None, f"{name} does not match the SHA-256 in the manifest: the "
                "archive was modified or damaged")
        for name, digest in sorted(digests.items())
        if contents.declared_digests.get(name) != digest]
    count = tree.size
    if contents.declared_entries != count:
        problems.append(Problem("archive", None, f"the manifest declares "
                                f"{contents.declared_entries} entries; the archive holds "
                                f"{count}"))
    computed = tree.leaf_level()
    checkpoint_problems: list[Problem] = []
    latest, verified = _checkpoints(contents, verifier, tree, checkpoint_problems)
    # The signed roots vouch for every entry they cover. Entries are walked one by one
    # only to name what is wrong, for the unsigned tail, or when asked (deep).
    if deep or checkpoint_problems or contents.leaf_hashes != computed:
        problems.extend(_entry_problems(data.split(b"\n")[:count], computed,
                                        contents.leaf_hashes, deep=deep))
    elif latest < count:
        problems.extend(_entry_problems(data.split(b"\n")[:count], computed,
                                        contents.leaf_hashes, deep=deep, start=latest))
    problems.extend(checkpoint_problems)
    if latest < count and not allow_unsigned_tail:
        problems.append(Problem("entry", latest, f"entries {latest}..{count - 1} are "
                                "not covered by any valid signed checkpoint"))
    seen = _cosignatures(contents, verified, witnesses, problems)
    return VerificationResult(
        origin=verifier.name if verifier else "", log_key=verifier.vkey if verifier
        else contents.log_vkey, entries=count, root_hash=tree.root(),
        checkpoints_verified=len(verified), latest_checkpoint=latest, witnesses=seen,
        problems=tuple(problems[:MAX_PROBLEMS]), processes=built.processes)


def _log_verifier(contents: ArchiveContents, pinned: str | None,
                  problems: list[Problem]) -> notes.Verifier | None:
    try:
        archived = notes.parse_vkey(contents.log_vkey)
    except NoteError as exc:
        archived = None
        problems.append(Problem("archive", None, f"the log key in the manifest is "
                                f"malformed: {exc}"))
    trusted = archived if pinned is None else notes.parse_vkey(pinned)
    if pinned is not None and archived is not None and archived != trusted:
        problems.append(Problem("archive", None, f"the archive names log key "
                                f"{contents.log_vkey}, not the pinned key {pinned}"))
    # The manifest's origin is unsigned: it must name the log whose key signed (the
    # key's name is the checkpoints' origin line, c2sp.org/tlog-checkpoint), or the
    # archive is relabelled as another log's.
    if trusted is not None and contents.origin != trusted.name:
        problems.append(Problem("archive", None, f"the manifest names origin "
                                f"{contents.origin!r}, but the log key and its signed "
                                f"checkpoints are for origin {trusted.name!r}: the "
                                "manifest was altered"))
    return trusted


def _entry_data(contents: ArchiveContents, problems: list[Problem]) -> bytes:
    """The entry bytes, newline-terminated."""
    data = contents.entries
    if data and not data.endswith(b"\n"):
        problems.append(Problem("archive", None, "entries.jsonl does not end with a newline: "
                                "the last entry is truncated"))
        data += b"\n"
    return data


def _entry_problems(bodies: list[bytes], computed: bytes, stored: bytes, *,
                    deep: bool, start: int = 0) -> list[Problem]:
    """The slow path: walk the entries to name each bad one (first ones first)."""
    found: list[Problem] = []
    if len(stored) != len(computed):
        found.append(Problem("archive", None, f"leaf_hashes.bin holds {len(stored) // 32} "
                             f"hashes for {len(bodies)} entries"))
    for i in range(start, len(bodies)):
        body = bodies[i]
        message = _entry_problem(i, body, computed, stored, deep=deep)
        if message is not None:
            # A duplicated seq points back at the first entry claiming it: with the
            # rest shifted by one, that is where the inserted entry sits.
            tail = TAIL.search(body)
            at = min(i, int(tail.group(1))) if tail else i
            found.append(Problem("entry", at, message))
            if len(found) >= MAX_PROBLEMS:
                break
    return found


def _entry_problem(i: int, body: bytes, computed: bytes, stored: bytes, *,
                   deep: bool) -> str | None:
    tail = TAIL.search(body)
    if tail is None:
        return "not a ledger entry (no seq/time tail)"
    seq = int(tail.group(1))
    if seq > i:
        return (f"claims seq {seq} at position {i}: an entry before it was deleted or "
                "entries were reordered")
    if seq < i:
        return (f"the entries at positions {seq} and {i} both claim seq {seq}: an entry "
                f"was inserted at {seq} or entries were reordered")
    if stored[i * 32:(i + 1) * 32] not in (b"", computed[i * 32:(i + 1) * 32]):
        return "its bytes do not match the leaf hash recorded when it was appended"
    if deep:
        try:
            decode(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return f"malformed entry: {exc}"
    return None


def _checkpoints(contents: ArchiveContents, verifier: notes.Verifier | None, tree: HashTree,
                 problems: list[Problem]) -> tuple[int, dict[int, str]]:
    """Check each checkpoint; returns the newest good size and the good note texts."""
    texts: dict[int, str] = {}
    previous: notes.Checkpoint | None = None
    latest = 0
    for archived in sorted(contents.checkpoints, key=lambda c: c.tree_size):
        size = archived.tree_size
        if verifier is None:
            problems.append(Problem("checkpoint", size, "cannot be checked without a log key"))
            continue
        try:
            checkpoint, note, _ = notes.open_checkpoint(archived.note, verifier)
        except (NoteError, CheckpointError) as exc:
            problems.append(Problem("checkpoint", size, f"bad signed note: {exc}"))
            continue
        message = _checkpoint_problem(checkpoint, size, previous, tree)
        if message is not None:
            problems.append(Problem("checkpoint", size, message))
            continue
        texts[size] = note.text
        previous, latest = checkpoint, size
    return latest, texts


def _checkpoint_problem(checkpoint: notes.Checkpoint, size: int,
                        previous: notes.Checkpoint | None, tree: HashTree) -> str | None:
    if checkpoint.size != size:
        return f"is filed under size {size} but says size {checkpoint.size}"
    start = previous.size if previous is not None else 0
    if size > tree.size:
        return (f"covers {size} entries but the archive holds {tree.size}: entries "
                f"{tree.size}..{size - 1} are missing (the log was truncated)")
    if tree.root(size) != checkpoint.root_hash:
        return (f"root hash does not match the entries: an entry in {start}..{size - 1} was "
                "altered, removed, inserted or reordered")
    if previous is not None:
        try:
            merkle.verify_consistency(previous.size, size, previous.root_hash,
                                      checkpoint.root_hash,
                                      tree.consistency_proof(previous.size, size))
        except ProofError as exc:
            return f"is not consistent with the checkpoint at size {previous.size}: {exc}"
    return None


def _cosignatures(contents: ArchiveContents, good: dict[int, str],
                  witnesses: Sequence[str], problems: list[Problem]) -> dict[str, int]:
    trusted = {notes.parse_vkey(w) for w in witnesses}
    seen: dict[str, int] = {}
    for cosig in contents.cosignatures:
        text = good.get(cosig.tree_size)
        if text is None:
            problems.append(Problem("cosignature", cosig.tree_size, "cosigns a checkpoint "
                                    "that is missing or invalid"))
            continue
        try:
            witness = notes.parse_vkey(cosig.witness_vkey)
            line = cosig.signature_line if cosig.signature_line.endswith("\n") else (
                cosig.signature_line + "\n")
            _note, ok = notes.open_note(text + "\n" + line, [witness])
        except NoteError as exc:
            problems.append(Problem("cosignature", cosig.tree_size, f"invalid: {exc}"))
            continue
        if witness.key_type != notes.COSIGNATURE_V1:
            problems.append(Problem("cosignature", cosig.tree_size, "the witness key is not "
                                    "a cosignature/v1 (type 0x04) key"))
            continue
        if ok and witness in trusted:
            seen[witness.name] = max(seen.get(witness.name, 0), cosig.tree_size)
    problems.extend(Problem("cosignature", None, f"no valid cosignature from the required "
                            f"witness {w.name}") for w in trusted if w.name not in seen)
    return seen
