"""Signing, storing and guarding checkpoints, and accepting witness cosignatures.

The log never signs a checkpoint that is inconsistent with the last one it signed. "The
last one it signed" is kept twice: in the database and in a state file next to the key
(``secrets_dir/ledger-checkpoint``), so an administrator who rewrites the database, its
checkpoints included, still cannot get a rewritten history signed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sovra.config import Settings
from sovra.errors import CheckpointError, NoteError, NotFoundError
from sovra.ledger import note as notes
from sovra.ledger.keyfile import load_or_create_log_key, read_private, write_private
from sovra.ledger.storage import CheckpointRow, CosignatureRow, LedgerStore
from sovra.ledger.tree import HashTree

log = logging.getLogger(__name__)

STATE_FILE = "ledger-checkpoint"


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint the log signed, with its note text (witness lines not included)."""

    checkpoint: notes.Checkpoint
    note: str
    created_at: float


class Checkpointer:
    """Makes checkpoints on demand and on a timer; refuses inconsistent ones."""

    def __init__(self, *, store: LedgerStore, tree: HashTree, signer: notes.Signer,
                 state_path: Path, interval_s: float, clock: Callable[[], float]) -> None:
        self._store = store
        self._tree = tree
        self.signer = signer
        self._state_path = state_path
        self._interval_s = interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._last = self._load_last_signed()
        self._last_time = time.monotonic()

    @classmethod
    def open(cls, store: LedgerStore, tree: HashTree, settings: Settings, *,
             clock: Callable[[], float]) -> Checkpointer:
        signer = load_or_create_log_key(settings.secrets_dir)
        return cls(store=store, tree=tree, signer=signer,
                   state_path=settings.secrets_dir / STATE_FILE,
                   interval_s=settings.checkpoint_interval_s, clock=clock)

    @property
    def verifier(self) -> notes.Verifier:
        return self.signer.verifier

    @property
    def last_signed(self) -> SignedCheckpoint | None:
        return self._last

    def _open(self, text: str) -> notes.Checkpoint:
        checkpoint, _note, _witnesses = notes.open_checkpoint(text, self.verifier)
        return checkpoint

    def _load_last_signed(self) -> SignedCheckpoint | None:
        """The newest checkpoint signed by our key, from the state file or the database."""
        candidates: list[SignedCheckpoint] = []
        if self._state_path.exists():
            text = read_private(self._state_path)
            try:
                candidates.append(SignedCheckpoint(self._open(text), text,
                                                   self._state_path.stat().st_mtime))
            except (NoteError, CheckpointError) as exc:
                raise CheckpointError(f"{self._state_path} does not hold a checkpoint "
                                      f"signed by this log's key: {exc}") from exc
        stored = self._store.latest_checkpoint()
        if stored is not None:
            try:
                candidates.append(SignedCheckpoint(self._open(stored.note), stored.note,
                                                   stored.created_at))
            except (NoteError, CheckpointError) as exc:
                raise CheckpointError(f"the stored checkpoint at size {stored.tree_size} is "
                                      f"not signed by this log's key: {exc}") from exc
        if not candidates:
            return None
        return max(candidates, key=lambda c: c.checkpoint.size)

    def integrity_problem(self) -> str | None:
        """Why the stored entries contradict what the log signed, or None."""
        last = self._last
        if last is None:
            return None
        if last.checkpoint.size > self._tree.size:
            return (f"storage holds {self._tree.size} entries but the log signed a checkpoint "
                    f"at size {last.checkpoint.size}: entries were deleted")
        if self._tree.root(last.checkpoint.size) != last.checkpoint.root_hash:
            return (f"the entries up to size {last.checkpoint.size} no longer match the "
                    "checkpoint the log signed: entries were altered")
        return None

    def sign(self) -> SignedCheckpoint:
        """Sign the current tree head (or return the last one if nothing was added)."""
        with self._lock:
            size = self._tree.size
            root = self._tree.root(size)
            last = self._last
            if last is not None:
                self._check_extends(last.checkpoint, size, root)
                if last.checkpoint.size == size:
                    return last
            checkpoint = notes.Checkpoint(self.signer.name, size, root)
            text = notes.sign_checkpoint(checkpoint, self.signer)
            now = self._clock()
            try:
                write_private(self._state_path, text)
            except OSError as exc:
                raise CheckpointError(f"cannot record the signed checkpoint: {exc}") from exc
            self._store.insert_checkpoint(CheckpointRow(size, root, text, now))
            self._last = SignedCheckpoint(checkpoint, text, now)
            self._last_time = time.monotonic()
            return self._last

    def _check_extends(self, last: notes.Checkpoint, size: int, root: bytes) -> None:
        if size < last.size:
            raise CheckpointError(f"refusing to sign size {size}: the log already signed "
                                  f"size {last.size}")
        if self._tree.root(last.size) != last.root_hash:
            raise CheckpointError(f"refusing to sign: the tree no longer matches the "
                                  f"checkpoint signed at size {last.size}")
        if size == last.size and root != last.root_hash:
            raise CheckpointError(f"refusing to sign a second root for size {size}")

    def maybe_sign_periodic(self) -> None:
        if self._interval_s <= 0 or time.monotonic() - self._last_time < self._interval_s:
            return
        last = self._last
        if last is None or self._tree.size > last.checkpoint.size:
            self.sign()
        self._last_time = time.monotonic()

    def latest(self) -> str:
        """The newest stored checkpoint note with every stored cosignature line appended."""
        row = self._store.latest_checkpoint()
        if row is None:
            raise NotFoundError("the ledger has no checkpoint yet")
        lines = [c.signature_line for c in self._store.cosignatures()
                 if c.tree_size == row.tree_size]
        return row.note + "".join(line if line.endswith("\n") else line + "\n"
                                  for line in lines)

    def add_cosignature(self, cosigned_note: str, witness: notes.Verifier) -> int:
        """Store a witness's cosignature of one of our checkpoints; returns its tree size.

        The note must carry our own signature and a valid cosignature/v1 from ``witness``
        over exactly a checkpoint we stored.
        """
        if witness.key_type != notes.COSIGNATURE_V1:
            raise NoteError("witness keys must be cosignature/v1 (type 0x04) keys")
        checkpoint, note, good = notes.open_checkpoint(cosigned_note, self.verifier, [witness])
        if witness not in good:
            raise NoteError(f"the note carries no cosignature from {witness.name}")
        stored = {c.tree_size: c for c in self._store.checkpoints()}.get(checkpoint.size)
        if stored is None or notes.parse_note(stored.note).text != note.text:
            raise CheckpointError(f"the log signed no such checkpoint at size {checkpoint.size}")
        line = next(s.line() for s in note.signatures
                    if (s.name, s.key_id) == (witness.name, witness.key_id))
        self._store.insert_cosignature(CosignatureRow(checkpoint.size, witness.vkey, line,
                                                      self._clock()))
        return checkpoint.size
