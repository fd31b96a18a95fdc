"""C2SP signed notes, tlog checkpoints and tlog cosignatures, as pure functions.

* Signed note (c2sp.org/signed-note): a UTF-8 text ending in a newline, a blank line,
  then signature lines ``— <key name> <base64(4-byte key ID || signature)>`` (U+2014).
  Ed25519 note keys have type byte 0x01; the key ID is
  ``SHA-256(name || 0x0A || 0x01 || public key)[:4]``. Verifier keys are written
  ``<name>+<hex key ID>+<base64(type || public key)>``.
* Checkpoint (c2sp.org/tlog-checkpoint): the note text is the origin line, the tree size
  in decimal, the base64 root hash, then optional extension lines.
* Cosignature (c2sp.org/tlog-cosignature, ``cosignature/v1``): type byte 0x04; the
  signature is ``u64 timestamp || Ed25519 signature`` over
  ``"cosignature/v1\\ntime <t>\\n" || checkpoint note text``.

Nothing here reads files or clocks: time is an argument. Malformed input raises
``NoteError`` (notes, keys) or ``CheckpointError`` (checkpoint bodies); input is
size-limited before any parsing so a hostile file cannot make us hang.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from sovra.errors import CheckpointError, NoteError

ED25519 = 0x01  # c2sp.org/signed-note: Ed25519 note signature
COSIGNATURE_V1 = 0x04  # c2sp.org/tlog-cosignature: timestamped Ed25519 cosignature
MAX_NOTE_BYTES = 64 * 1024
MAX_SIGNATURES = 100
MAX_TEXT_LINES = 64
DASH = "\u2014"  # EM DASH starts every signature line
_COSIG_HEADER = "cosignature/v1\n"
_BAD_NAME = re.compile(r"[\s+]")
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")
_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID, and the signature bytes after it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode("ascii")
        return f"{DASH} {self.name} {blob}\n"


@dataclass(frozen=True)
class Note:
    """A signed note: the text (ending in a newline) and its signatures."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """SHA-256(name || 0x0A || type || public key)[:4] (c2sp.org/signed-note)."""
    return hashlib.sha256(name.encode() + b"\n" + bytes([key_type]) + public_key).digest()[:4]


def _check_name(name: str) -> None:
    if not name or _BAD_NAME.search(name) or len(name.encode()) > 512:
        raise NoteError(f"invalid key name {name!r}: it must be non-empty, without spaces "
                        "or '+'")


@dataclass(frozen=True)
class Verifier:
    """A public key that can check note signatures (type 0x01) or cosignatures (0x04)."""

    name: str
    key_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.key_type, self.public_key)

    @property
    def vkey(self) -> str:
        blob = base64.b64encode(bytes([self.key_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{blob}"

    def verify(self, text: str, signature: bytes) -> int | None:
        """Check one signature over ``text``; returns the cosignature time (or None)."""
        key = Ed25519PublicKey.from_public_bytes(self.public_key)
        message = text.encode()
        timestamp = None
        if self.key_type == COSIGNATURE_V1:
            if len(signature) != 8 + 64:
                raise NoteError(f"cosignature from {self.name} has the wrong length")
            (timestamp,) = struct.unpack(">Q", signature[:8])
            if timestamp > 2**63 - 1:
                raise NoteError(f"cosignature from {self.name} has an invalid timestamp")
            message = f"{_COSIG_HEADER}time {timestamp}\n".encode() + message
            signature = signature[8:]
        elif len(signature) != 64:
            raise NoteError(f"signature from {self.name} has the wrong length")
        try:
            key.verify(signature, message)
        except InvalidSignature as exc:
            raise NoteError(f"invalid signature from known key {self.name}") from exc
        return timestamp


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes (type 0x01) or cosigns checkpoints (type 0x04)."""

    name: str
    key_type: int
    seed: bytes

    @classmethod
    def generate(cls, name: str, key_type: int = ED25519) -> Signer:
        _check_name(name)
        seed = Ed25519PrivateKey.generate().private_bytes_raw()
        return cls(name, key_type, seed)

    @property
    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, self.key_type,
                        public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    @property
    def skey(self) -> str:
        """``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>`` (Go's note format)."""
        blob = base64.b64encode(bytes([self.key_type]) + self.seed).decode("ascii")
        return f"PRIVATE+KEY+{self.name}+{self.verifier.key_id.hex()}+{blob}"

    def sign(self, text: str, *, timestamp: int | None = None) -> NoteSignature:
        key = Ed25519PrivateKey.from_private_bytes(self.seed)
        if self.key_type == COSIGNATURE_V1:
            if timestamp is None or not 0 <= timestamp <= 2**63 - 1:
                raise NoteError("a cosignature needs a POSIX timestamp")
            message = f"{_COSIG_HEADER}time {timestamp}\n{text}".encode()
            signature = struct.pack(">Q", timestamp) + key.sign(message)
        else:
            signature = key.sign(text.encode())
        return NoteSignature(self.name, self.verifier.key_id, signature)


def parse_vkey(vkey: str) -> Verifier:
    """Parse ``<name>+<hex key ID>+<base64(type || key)>``; the ID must match the key."""
    parts = vkey.strip().split("+", 2)  # base64 may itself contain '+'
    if len(parts) != 3:
        raise NoteError("a verifier key has three '+'-separated fields: name, id, key")
    name, hex_id, blob = parts
    _check_name(name)
    raw = _b64(blob, "verifier key")
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("verifier key must be an Ed25519 (0x01) or cosignature/v1 (0x04) key")
    verifier = Verifier(name, raw[0], raw[1:])
    if hex_id.lower() != verifier.key_id.hex():
        raise NoteError(f"verifier key for {name} has the wrong key ID {hex_id}")
    return verifier


def parse_pinned_key(key: str, origin: str | None = None) -> Verifier:
    """A log key an auditor pins, bound to its origin (c2sp.org/tlog-checkpoint: the
    origin is the key's name, and the key ID, so every signature, covers it).

    ``key`` is the verifier key ``<origin>+<hex key ID>+<base64 key>`` (what ``sovra
    ledger key`` prints), or a bare base64 Ed25519 public key (32 bytes, or 33 with the
    0x01 type byte) together with ``origin``. A bare key without an origin is refused:
    a key alone would accept checkpoints the same key signed for any other log.
    """
    text = key.strip()
    try:
        raw = _canonical_b64(text)
    except ValueError:
        raw = None
    if raw is not None and len(raw) in (32, 33):  # a verifier key is 55 characters or more
        if origin is None:
            raise NoteError("a pinned log key must come with its origin: give it as "
                            "<origin>+<key ID>+<key> (as `sovra ledger key` prints it) or "
                            "name the origin (--origin)")
        _check_name(origin)
        if len(raw) == 33 and raw[0] != ED25519:
            raise NoteError("a pinned log key must be an Ed25519 (0x01) note key")
        return Verifier(origin, ED25519, raw[-32:])
    verifier = parse_vkey(text)
    if verifier.key_type != ED25519:
        raise NoteError("a pinned log key must be an Ed25519 (0x01) note key, not a "
                        "witness's cosignature key")
    if origin is not None and origin != verifier.name:
        raise NoteError(f"the pinned key is for origin {verifier.name!r}, not {origin!r}")
    return verifier


def parse_skey(skey: str) -> Signer:
    """Parse ``PRIVATE+KEY+<name>+<hex key ID>+<base64(type || seed)>``."""
    parts = skey.strip().split("+", 4)  # base64 may itself contain '+'
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("not a signing key (expected PRIVATE+KEY+name+id+key)")
    name, hex_id, blob = parts[2:]
    _check_name(name)
    raw = _b64(blob, "signing key")
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        raise NoteError("signing key must be an Ed25519 (0x01) or cosignature/v1 (0x04) key")
    signer = Signer(name, raw[0], raw[1:])
    if hex_id.lower() != signer.verifier.key_id.hex():
        raise NoteError(f"signing key for {name} has the wrong key ID {hex_id}")
    return signer


def parse_note(data: str | bytes) -> Note:
    """Split a signed note into text and signature lines, checking the format only."""
    if isinstance(data, bytes):
        if len(data) > MAX_NOTE_BYTES:
            raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise NoteError("note is not valid UTF-8") from exc
    if len(data) > MAX_NOTE_BYTES or len(data.encode()) > MAX_NOTE_BYTES:
        raise NoteError(f"note is larger than {MAX_NOTE_BYTES} bytes")
    if _CONTROL.search(data):
        raise NoteError("note contains control characters other than newline")
    split = data.rfind("\n\n")
    if split < 0:
        raise NoteError("note has no blank line before its signatures")
    text, block = data[:split + 1], data[split + 2:]
    if not block.endswith("\n"):
        raise NoteError("note's signature block must end with a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise NoteError(f"note has more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(DASH + " "):
        raise NoteError("signature lines must start with '\u2014 ' (U+2014 and a space)")
    fields = line[2:].split(" ")
    if len(fields) != 2:
        raise NoteError("a signature line is '\u2014 <name> <base64>'")
    name, blob = fields
    _check_name(name)
    raw = _b64(blob, f"signature from {name}")
    if len(raw) < 5:
        raise NoteError(f"signature from {name} is too short")
    return NoteSignature(name, raw[:4], raw[4:])


def open_note(data: str | bytes, verifiers: Iterable[Verifier]) -> tuple[Note, list[Verifier]]:
    """Parse and verify: returns the note and the known keys whose signatures verified.

    Signatures from unknown keys are ignored (c2sp.org/signed-note); a signature from a
    known key that fails is an error, as is a note no known key signed.
    """
    note = parse_note(data)
    known = {(v.name, v.key_id): v for v in verifiers}
    seen: set[tuple[str, bytes]] = set()
    good: list[Verifier] = []
    for sig in note.signatures:
        ident = (sig.name, sig.key_id)
        if ident in seen:
            raise NoteError(f"note carries two signatures from key {sig.name}")
        seen.add(ident)
        verifier = known.get(ident)
        if verifier is not None:
            verifier.verify(note.text, sig.signature)
            good.append(verifier)
    if not good:
        raise NoteError("note carries no signature from a known key")
    return note, good


@dataclass(frozen=True)
class Checkpoint:
    """A tlog checkpoint body (c2sp.org/tlog-checkpoint)."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        root = base64.b64encode(self.root_hash).decode("ascii")
        return "".join(f"{line}\n" for line in (self.origin, str(self.size), root,
                                                 *self.extensions))


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse a checkpoint note text (without signatures)."""
    if len(text) > MAX_NOTE_BYTES:
        raise CheckpointError(f"checkpoint is larger than {MAX_NOTE_BYTES} bytes")
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint text must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError("checkpoint needs an origin, a tree size and a root hash line")
    if len(lines) > MAX_TEXT_LINES:
        raise CheckpointError(f"checkpoint has more than {MAX_TEXT_LINES} lines")
    origin, size, root, *extensions = lines
    if not origin:
        raise CheckpointError("checkpoint origin line is empty")
    if not _DECIMAL.fullmatch(size):
        raise CheckpointError(f"checkpoint tree size {size!r} is not a decimal number")
    try:
        root_hash = _canonical_b64(root)
    except ValueError as exc:
        raise CheckpointError("checkpoint root hash is not valid base64") from exc
    if len(root_hash) != 32:
        raise CheckpointError("checkpoint root hash is not 32 bytes")
    if any(not line for line in extensions):
        raise CheckpointError("checkpoint extension lines must not be empty")
    return Checkpoint(origin, int(size), root_hash, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> str:
    """The checkpoint as a signed note (the log's own signature)."""
    return Note(checkpoint.text(), (signer.sign(checkpoint.text()),)).render()


def open_checkpoint(data: str | bytes, log_key: Verifier,
                    witnesses: Sequence[Verifier] = ()) -> tuple[Checkpoint, Note, list[Verifier]]:
    """Verify a signed checkpoint: the log's signature is required, witnesses optional.

    Returns the checkpoint, the note, and the witnesses whose cosignatures verified.
    """
    note, good = open_note(data, [log_key, *witnesses])
    if log_key not in good:
        raise NoteError(f"checkpoint is not signed by the log key {log_key.name}")
    checkpoint = parse_checkpoint(note.text)
    if checkpoint.origin != log_key.name:
        raise CheckpointError(f"checkpoint origin {checkpoint.origin!r} is not the log "
                              f"{log_key.name!r}")
    return checkpoint, note, [v for v in good if v is not log_key]


def _b64(blob: str, what: str) -> bytes:
    try:
        return _canonical_b64(blob)
    except ValueError as exc:
        raise NoteError(f"{what} is not valid base64") from exc


def _canonical_b64(blob: str) -> bytes:
    """Strict base64: padded, no stray characters, and no unused bits set, so that one
    value has exactly one encoding (otherwise a signed note could be altered in place
    without changing what it says)."""
    try:
        raw = base64.b64decode(blob, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError(str(exc)) from exc
    if base64.b64encode(raw).decode("ascii") != blob:
        raise ValueError("non-canonical base64")
    return raw
