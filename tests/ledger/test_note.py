"""C2SP signed notes, checkpoints and cosignatures, including malformed input.

The PeterNeumann key, text and signature are the reference vector of the Go
implementation of signed notes (golang.org/x/mod/sumdb/note, note_test.go). Ed25519 is
deterministic (RFC 8032), so signing the text with that key must reproduce the published
signature byte for byte.
"""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from sovra.errors import CheckpointError, NoteError
from sovra.ledger import note as notes

GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = ("If you think cryptography is the answer to your problem,\n"
           "then you don't know what your problem is.\n")
GO_SIG = ("\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvq"
          "fqdngotpRZb6KE6RyyBwJnAM=\n")
GO_NOTE = GO_TEXT + "\n" + GO_SIG


def test_reference_vector_verifies() -> None:
    verifier = notes.parse_vkey(GO_VKEY)
    note, good = notes.open_note(GO_NOTE, [verifier])
    assert note.text == GO_TEXT
    assert good == [verifier]
    assert verifier.vkey == GO_VKEY


def test_signing_reproduces_the_reference_signature() -> None:
    signer = notes.parse_skey(GO_SKEY)
    assert signer.verifier.vkey == GO_VKEY
    assert signer.skey == GO_SKEY
    assert notes.Note(GO_TEXT, (signer.sign(GO_TEXT),)).render() == GO_NOTE


def test_altered_text_fails_with_known_key() -> None:
    with pytest.raises(NoteError, match="invalid signature"):
        notes.open_note(GO_NOTE.replace("cryptography", "cryptographY"),
                        [notes.parse_vkey(GO_VKEY)])


def test_unknown_key_only_is_rejected() -> None:
    other = notes.Signer.generate("example.org/other").verifier
    with pytest.raises(NoteError, match="no signature from a known key"):
        notes.open_note(GO_NOTE, [other])


def test_wrong_key_id_is_treated_as_unknown_key() -> None:
    verifier = notes.parse_vkey(GO_VKEY)
    raw = base64.b64decode(GO_SIG.split(" ")[2])
    forged = base64.b64encode(b"\x00\x00\x00\x00" + raw[4:]).decode()
    with pytest.raises(NoteError, match="no signature from a known key"):
        notes.open_note(f"{GO_TEXT}\n\u2014 PeterNeumann {forged}\n", [verifier])


def test_vkey_with_wrong_key_id_is_rejected() -> None:
    with pytest.raises(NoteError, match="wrong key ID"):
        notes.parse_vkey("PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")


@pytest.mark.parametrize("bad", [
    "", "PeterNeumann", "PeterNeumann+c74f20a3",
    "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10T",
    "PeterNeumann+c74f20a3+ApRc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "PeterNeumann+c74f20a3+!!!!",
])
def test_malformed_vkeys_are_note_errors(bad: str) -> None:
    with pytest.raises(NoteError):
        notes.parse_vkey(bad)


@pytest.mark.parametrize(("data", "reason"), [
    (GO_TEXT, "no blank line"),                                     # missing signature block
    (GO_TEXT + "\n", "no blank line|signature"),                    # empty signature block
    (GO_TEXT + "\n" + GO_SIG.rstrip("\n"), "end with a newline"),   # missing final newline
    (GO_TEXT + "\n- PeterNeumann abc=\n", "must start with"),       # ASCII dash, not U+2014
    (GO_TEXT + "\n\u2014 PeterNeumann not*base64\n", "base64"),     # bad base64
    (GO_TEXT + "\n\u2014 PeterNeumann AAAA\n", "too short"),        # shorter than a key ID
    (GO_TEXT + "\n\u2014 PeterNeumann\n", "signature line"),        # missing field
    ("bell\x07\n\n" + GO_SIG, "control characters"),
    (GO_NOTE + GO_SIG, "two signatures"),                           # duplicate signature
])
def test_malformed_notes_are_note_errors(data: str, reason: str) -> None:
    with pytest.raises(NoteError, match=reason):
        notes.open_note(data, [notes.parse_vkey(GO_VKEY)])


def test_oversized_note_is_rejected_before_parsing() -> None:
    huge = "x\n" * (notes.MAX_NOTE_BYTES // 2 + 1) + "\n" + GO_SIG
    with pytest.raises(NoteError, match="larger than"):
        notes.parse_note(huge)
    with pytest.raises(NoteError, match="larger than"):
        notes.parse_note(huge.encode())


def test_too_many_signatures_are_rejected() -> None:
    with pytest.raises(NoteError, match="more than 100"):
        notes.parse_note(GO_TEXT + "\n" + GO_SIG * 101)


def test_invalid_utf8_is_a_note_error() -> None:
    with pytest.raises(NoteError, match="UTF-8"):
        notes.parse_note(b"\xff\xfe\n\n" + GO_SIG.encode())


@settings(max_examples=200, deadline=None)
@given(st.one_of(st.binary(max_size=400), st.text(max_size=400)))
def test_random_input_never_crashes(data: bytes | str) -> None:
    try:
        notes.open_note(data, [notes.parse_vkey(GO_VKEY)])
    except NoteError:
        pass
    try:
        notes.parse_checkpoint(data if isinstance(data, str) else data.decode("latin-1"))
    except CheckpointError:
        pass


def _checkpoint(size: int = 7) -> notes.Checkpoint:
    return notes.Checkpoint("example.org/log", size, bytes(range(32)))


def test_checkpoint_round_trip_and_signature() -> None:
    signer = notes.Signer.generate("example.org/log")
    signed = notes.sign_checkpoint(_checkpoint(), signer)
    assert signed.startswith("example.org/log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\n")
    checkpoint, _note, witnesses = notes.open_checkpoint(signed, signer.verifier)
    assert checkpoint == _checkpoint() and witnesses == []


def test_checkpoint_signed_by_another_log_is_rejected() -> None:
    ours = notes.Signer.generate("example.org/log")
    theirs = notes.Signer.generate("example.org/log")
    with pytest.raises(NoteError, match="no signature from a known key"):
        notes.open_checkpoint(notes.sign_checkpoint(_checkpoint(), theirs), ours.verifier)


def test_checkpoint_with_foreign_origin_is_rejected() -> None:
    signer = notes.Signer.generate("example.org/log")
    other = notes.Checkpoint("example.org/other", 7, bytes(32))
    with pytest.raises(CheckpointError, match="origin"):
        notes.open_checkpoint(notes.sign_checkpoint(other, signer), signer.verifier)


@pytest.mark.parametrize(("text", "reason"), [
    ("example.org/log\n7\n", "needs an origin"),                              # missing root line
    ("example.org/log\n", "needs an origin"),
    ("\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "origin line is empty"),
    ("example.org/log\n07\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal"),
    ("example.org/log\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n", "decimal"),
    ("example.org/log\n7\nnot base64!\n", "base64"),
    ("example.org/log\n7\nAAECAw==\n", "32 bytes"),
    ("example.org/log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=", "end with a newline"),
    ("example.org/log\n7\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n\nx\n", "extension"),
    ("o\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n" + "e\n" * 100, "more than"),
])
def test_malformed_checkpoints_are_checkpoint_errors(text: str, reason: str) -> None:
    with pytest.raises(CheckpointError, match=reason):
        notes.parse_checkpoint(text)


def test_cosignature_follows_c2sp_cosignature_v1() -> None:
    log = notes.Signer.generate("example.org/log")
    witness = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    text = _checkpoint().text()
    sig = witness.sign(text, timestamp=1_679_315_147)
    # Key ID uses the cosignature type byte 0x04 (c2sp.org/tlog-cosignature).
    public = witness.verifier.public_key
    assert sig.key_id == notes.key_id("witness.example.org/w1", 0x04, public)
    assert sig.key_id != notes.key_id("witness.example.org/w1", 0x01, public)
    # timestamped_signature: u64 big-endian time, then Ed25519 over the v1 message.
    assert struct.unpack(">Q", sig.signature[:8]) == (1_679_315_147,)
    message = f"cosignature/v1\ntime 1679315147\n{text}".encode()
    Ed25519PrivateKey.from_private_bytes(witness.seed).public_key().verify(
        sig.signature[8:], message)
    cosigned = notes.Note(text, (log.sign(text), sig)).render()
    _checkpoint_value, _note, good = notes.open_checkpoint(cosigned, log.verifier,
                                                           [witness.verifier])
    assert good == [witness.verifier]


def test_cosignature_with_altered_timestamp_fails() -> None:
    witness = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    text = _checkpoint().text()
    sig = witness.sign(text, timestamp=100)
    bumped = notes.NoteSignature(sig.name, sig.key_id, struct.pack(">Q", 101) + sig.signature[8:])
    with pytest.raises(NoteError, match="invalid signature"):
        notes.open_note(notes.Note(text, (bumped,)).render(), [witness.verifier])


def test_cosignature_of_wrong_length_fails() -> None:
    witness = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    text = _checkpoint().text()
    short = notes.NoteSignature(witness.name, witness.verifier.key_id, b"\x00" * 40)
    with pytest.raises(NoteError, match="wrong length"):
        notes.open_note(notes.Note(text, (short,)).render(), [witness.verifier])


def test_skey_round_trip_and_bad_skeys() -> None:
    signer = notes.Signer.generate("witness.example.org/w1", notes.COSIGNATURE_V1)
    assert notes.parse_skey(signer.skey) == signer
    for bad in ["", "PRIVATE+KEY+x", GO_SKEY.replace("c74f20a3", "00000000"),
                "PUBLIC+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"]:
        with pytest.raises(NoteError):
            notes.parse_skey(bad)
